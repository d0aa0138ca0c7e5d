//! A simulated game that speaks the Vox Deorum pipe protocol as the Civ V
//! DLL does: it is the local-socket *server* (Unix socket or named pipe), registers its functions when the
//! bridge connects, answers `lua_call`s from a [`World`], and sends
//! `game_event`s with Civ-style ids (`turn * 1_000_000 + sequence`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use futures::StreamExt;
use gamebridge_protocol::{
    BridgeMessage, ErrorBody, ErrorCode, FrameCodec, Framing, GameEvent, GameMessage, RawValue,
};
use gamebridge_protocol::{Response, WireId};
use interprocess::local_socket::tokio::Stream as LocalStream;
use interprocess::local_socket::traits::tokio::Listener as _;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::world::{Emitted, FUNCTIONS, World};

pub struct SimGame {
    world: Mutex<World>,
    event_sequence: Mutex<(u64, u64)>,
}

impl SimGame {
    /// Listens on a Unix socket at `path` (replacing a stale one) and serves
    /// every connection until `shutdown`.
    pub fn start(path: &Path, shutdown: CancellationToken) -> std::io::Result<PathBuf> {
        let _ = std::fs::remove_file(path);
        let name = path.as_os_str().to_fs_name::<GenericFilePath>()?;
        let listener = ListenerOptions::new().name(name).create_tokio()?;
        let game =
            Arc::new(SimGame { world: Mutex::new(World::default()), event_sequence: Mutex::new((0, 0)) });
        let path = path.to_owned();
        let cleanup = path.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = shutdown.cancelled() => break,
                };
                match accepted {
                    Ok(stream) => {
                        let game = game.clone();
                        let shutdown = shutdown.clone();
                        tokio::spawn(async move {
                            tokio::select! {
                                result = game.serve(stream) => {
                                    if let Err(error) = result {
                                        tracing::debug!(%error, "demo game connection ended");
                                    }
                                }
                                () = shutdown.cancelled() => {}
                            }
                        });
                    }
                    Err(error) => tracing::warn!(%error, "demo game could not accept a connection"),
                }
            }
            let _ = std::fs::remove_file(cleanup);
        });
        Ok(path)
    }

    async fn serve(&self, stream: LocalStream) -> std::io::Result<()> {
        let (reader, mut writer) = tokio::io::split(stream);
        let codec = FrameCodec::new(&Framing::default(), gamebridge_protocol::codec::DEFAULT_MAX_FRAME);
        let mut out = BytesMut::new();
        for (name, description) in FUNCTIONS {
            let register = GameMessage::LuaRegister {
                function: (*name).into(),
                description: Some((*description).into()),
                parameters: None,
            };
            encode(&codec, &register, &mut out);
        }
        writer.write_all(&out).await?;
        let mut frames = FramedRead::new(reader, FrameCodec::new(&Framing::default(), 1 << 24));
        while let Some(frame) = frames.next().await {
            let Ok(frame) = frame? else { continue };
            let Ok(message) = BridgeMessage::parse(&frame) else {
                continue;
            };
            out.clear();
            for reply in self.handle(message) {
                encode(&codec, &reply, &mut out);
            }
            if !out.is_empty() {
                writer.write_all(&out).await?;
            }
        }
        Ok(())
    }

    fn handle(&self, message: BridgeMessage) -> Vec<GameMessage> {
        match message {
            BridgeMessage::LuaCall { id, function, args } => {
                let args: serde_json::Value = serde_json::from_str(args.get()).unwrap_or_default();
                let outcome = self.world.lock().expect("world lock").call(&function, &args);
                self.reply(id, outcome)
            }
            BridgeMessage::LuaExecute { id, .. } => {
                let error =
                    ErrorBody::new(ErrorCode::LUA_EXECUTION_ERROR, "the demo game has no Lua interpreter");
                vec![GameMessage::LuaResponse(Response::from_result(id, Err(error)))]
            }
            _ => Vec::new(),
        }
    }

    fn reply(
        &self,
        id: WireId,
        outcome: Result<(serde_json::Value, Vec<Emitted>), String>,
    ) -> Vec<GameMessage> {
        match outcome {
            Ok((result, events)) => {
                let result = RawValue::from_string(result.to_string()).expect("serde_json output is JSON");
                let mut replies = vec![GameMessage::LuaResponse(Response::from_result(id, Ok(result)))];
                replies.extend(events.into_iter().map(|(event, payload)| self.event(event, payload)));
                replies
            }
            Err(message) => {
                let error = ErrorBody::new(ErrorCode::LUA_EXECUTION_ERROR, message);
                vec![GameMessage::LuaResponse(Response::from_result(id, Err(error)))]
            }
        }
    }

    /// An event with a Civ V id: the sequence restarts at 1 each turn.
    fn event(&self, event: String, payload: serde_json::Value) -> GameMessage {
        let turn = self.world.lock().expect("world lock").turn();
        let mut sequence = self.event_sequence.lock().expect("sequence lock");
        *sequence = if sequence.0 == turn { (turn, sequence.1 + 1) } else { (turn, 1) };
        let payload = RawValue::from_string(payload.to_string()).expect("serde_json output is JSON");
        let id =
            RawValue::from_string((turn * 1_000_000 + sequence.1).to_string()).expect("a number is JSON");
        GameMessage::GameEvent(GameEvent { id: Some(id), ..GameEvent::named(event, payload) })
    }
}

fn encode(codec: &FrameCodec, message: &GameMessage, out: &mut BytesMut) {
    if let Err(error) = codec.encode(&message.to_json(), out) {
        tracing::warn!(%error, "demo game could not frame a message");
    }
}
