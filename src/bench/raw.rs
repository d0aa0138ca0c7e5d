//! The raw floor under every call: a direct connection to a simulated game,
//! speaking the pipe protocol, framing and parsing as the bridge does.

use std::path::Path;

use anyhow::Context;
use bytes::BytesMut;
use futures::StreamExt;
use gamebridge_protocol::{BridgeMessage, FrameCodec, Framing, GameMessage, RawValue, WireId};
use interprocess::local_socket::tokio::Stream as LocalStream;
use interprocess::local_socket::{ConnectOptions, GenericFilePath, ToFsName};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedRead;

const MAX_FRAME: usize = 1 << 24;

pub struct RawGame {
    frames: FramedRead<tokio::io::ReadHalf<LocalStream>, FrameCodec>,
    writer: tokio::io::WriteHalf<LocalStream>,
    codec: FrameCodec,
    request: BytesMut,
    next_id: u64,
}

impl RawGame {
    pub async fn connect(path: &Path) -> anyhow::Result<Self> {
        let name = path.as_os_str().to_fs_name::<GenericFilePath>()?;
        let stream: LocalStream = ConnectOptions::new().name(name).connect_tokio().await?;
        let (reader, writer) = tokio::io::split(stream);
        let frames = FramedRead::new(reader, FrameCodec::new(&Framing::default(), MAX_FRAME));
        let codec = FrameCodec::new(&Framing::default(), MAX_FRAME);
        Ok(Self { frames, writer, codec, request: BytesMut::new(), next_id: 0 })
    }

    /// One `lua_call` of `Echo` with `args` and its `lua_response`.
    pub async fn round_trip(&mut self, args: &str) -> anyhow::Result<()> {
        self.calls(1, args).await
    }

    /// `count` `lua_call`s of `Echo` written at once, then their `count`
    /// responses: a batch at its fastest.
    pub async fn calls(&mut self, count: usize, args: &str) -> anyhow::Result<()> {
        self.request.clear();
        for _ in 0..count {
            self.next_id += 1;
            let call = BridgeMessage::LuaCall {
                id: WireId::Text(self.next_id.to_string()),
                function: "Echo".into(),
                args: RawValue::from_string(args.to_owned())?,
            };
            self.codec.encode(&call.to_json(), &mut self.request)?;
        }
        self.writer.write_all(&self.request).await?;
        let mut answered = 0;
        while answered < count {
            let frame = self.frames.next().await.context("the game closed the connection")???;
            if let GameMessage::LuaResponse(response) = GameMessage::parse(&frame)? {
                anyhow::ensure!(response.success, "the game failed the call");
                answered += 1;
            }
        }
        Ok(())
    }
}
