//! A stand-in for MAME running Tempest AI's Lua script, as far as the wire
//! goes: the 2-byte handshake on connect, then each frame as a big-endian
//! `u16` length and its payload, and a blocking read of the 5-byte reply.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::within;

/// Tempest's payload: a 39-byte header and 195 `f32` values.
pub const PAYLOAD: usize = 819;

pub struct Instance(pub TcpStream);

impl Instance {
    pub async fn connect(address: &str) -> Self {
        let mut stream = within("connecting to the bridge", TcpStream::connect(address)).await.unwrap();
        stream.write_all(&[0, 0]).await.unwrap(); // the 2-byte handshake
        Self(stream)
    }

    pub async fn step(&mut self, frame: &[u8]) -> [u8; 5] {
        let mut message = (frame.len() as u16).to_be_bytes().to_vec();
        message.extend_from_slice(frame);
        self.0.write_all(&message).await.unwrap();
        let mut reply = [0u8; 5];
        within("a step reply", self.0.read_exact(&mut reply)).await.unwrap();
        reply
    }
}

/// Frame `n` as the real script sends it: 195 f32 values (the `num_values`
/// the Tempest frame spec requires), `n` in the subjective reward.
pub fn tempest_frame(n: u32) -> Vec<u8> {
    let mut frame = vec![0u8; PAYLOAD];
    frame[..2].copy_from_slice(&195u16.to_be_bytes());
    frame[2..10].copy_from_slice(&f64::from(n).to_be_bytes());
    frame
}

/// Frame `n` of instance `instance` for tests whose agents echo: n in the
/// first 4 bytes, the instance in the fifth, padded to the 819-byte payload.
pub fn frame(instance: u8, n: u32) -> Vec<u8> {
    let mut frame = vec![0u8; PAYLOAD];
    frame[..4].copy_from_slice(&n.to_be_bytes());
    frame[4] = instance;
    frame
}

/// What an echoing agent answers to [`frame`]: its first five bytes.
pub fn expected_reply(instance: u8, n: u32) -> [u8; 5] {
    frame(instance, n)[..5].try_into().unwrap()
}
