//! Link specs: one string that says how to reach a game.
//!
//! `pipe:ID`, `unix:PATH`, `tcp:HOST:PORT`, with query options such as
//! `?framing=lines`, or a profile name (`vox-deorum`). See ARCHITECTURE.md.

use std::fmt;
use std::str::FromStr;

use gamebridge_protocol::Framing;
use gamebridge_protocol::codec::DEFAULT_MAX_FRAME;

use crate::stream::Endpoint;

/// A parsed link spec.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    pub transport: Transport,
    pub stream: StreamOptions,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Transport {
    /// A byte stream the bridge connects to.
    Stream(Endpoint),
}

/// Options of stream links.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamOptions {
    pub framing: Framing,
    /// Larger frames are refused (and skipped) rather than buffered.
    pub max_frame: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self { framing: Framing::default(), max_frame: DEFAULT_MAX_FRAME }
    }
}

/// Why a link spec was refused.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("invalid link spec {spec:?}: {reason}")]
pub struct SpecError {
    pub spec: String,
    pub reason: String,
}

/// The pipe id of the Vox Deorum DLL, unless `VOX_DEORUM_PIPE_NAME` says otherwise.
pub const VOX_DEORUM_PIPE_ID: &str = "vox-deorum-bridge";

impl LinkSpec {
    /// Expands a profile name to its spec; other text is returned unchanged.
    pub fn expand_profile(text: &str) -> String {
        match text {
            "vox-deorum" => {
                let id =
                    std::env::var("VOX_DEORUM_PIPE_NAME").unwrap_or_else(|_| VOX_DEORUM_PIPE_ID.to_owned());
                format!("pipe:{id}")
            }
            other => other.to_owned(),
        }
    }
}

impl FromStr for LinkSpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Self, SpecError> {
        let expanded = LinkSpec::expand_profile(text);
        let fail = |reason: String| SpecError { spec: text.to_owned(), reason };
        let (target, query) = expanded.split_once('?').unwrap_or((&expanded, ""));
        let (scheme, address) = target.split_once(':').ok_or_else(|| {
            fail(
                "expected SCHEME:ADDRESS (pipe:ID, unix:PATH, tcp:HOST:PORT) or a profile (vox-deorum)"
                    .into(),
            )
        })?;
        if address.is_empty() {
            return Err(fail(format!("{scheme}: needs an address")));
        }
        let endpoint = match scheme {
            "pipe" => Endpoint::pipe(address),
            "unix" => Endpoint::Local(address.into()),
            "tcp" => {
                let port_ok = address.rsplit_once(':').is_some_and(|(host, port)| {
                    !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port != 0)
                });
                if !port_ok {
                    return Err(fail(format!("tcp:{address} needs HOST:PORT with a port from 1 to 65535")));
                }
                Endpoint::Tcp(address.to_owned())
            }
            "fifo" | "mailbox" | "http" => {
                return Err(fail(format!("{scheme} links are not available in this version")));
            }
            other => {
                return Err(fail(format!("unknown link scheme {other:?}; expected pipe, unix or tcp")));
            }
        };
        let mut stream = StreamOptions::default();
        for option in query.split('&').filter(|option| !option.is_empty()) {
            let (key, value) = option.split_once('=').unwrap_or((option, ""));
            match key {
                "framing" => stream.framing = value.parse().map_err(fail)?,
                "max_frame" => {
                    stream.max_frame = value
                        .parse()
                        .ok()
                        .filter(|max| *max > 0)
                        .ok_or_else(|| fail(format!("max_frame={value} is not a positive byte count")))?;
                }
                "protocol" if value == "bridge" => {}
                "protocol" => {
                    return Err(fail(format!("protocol={value} is not available; use protocol=bridge")));
                }
                "listen" => return Err(fail("the listen role is not available in this version".into())),
                other => {
                    return Err(fail(format!(
                        "unknown option {other:?}; expected framing, max_frame or protocol"
                    )));
                }
            }
        }
        Ok(LinkSpec { transport: Transport::Stream(endpoint), stream })
    }
}

impl fmt::Display for LinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.transport {
            Transport::Stream(endpoint) => write!(f, "{endpoint}")?,
        }
        if self.stream.framing != Framing::default() {
            write!(f, "?framing={}", self.stream.framing)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(spec: &str) -> Endpoint {
        let Transport::Stream(endpoint) = spec.parse::<LinkSpec>().unwrap().transport;
        endpoint
    }

    #[test]
    fn pipe_follows_the_node_ipc_naming() {
        #[cfg(unix)]
        assert_eq!(endpoint("pipe:civ"), Endpoint::Local("/tmp/app.civ".into()));
        #[cfg(windows)]
        assert_eq!(endpoint("pipe:civ"), Endpoint::Local(r"\\.\pipe\tmp-app.civ".into()));
    }

    #[test]
    fn unix_and_tcp() {
        assert_eq!(endpoint("unix:/run/game.sock"), Endpoint::Local("/run/game.sock".into()));
        assert_eq!(endpoint("tcp:127.0.0.1:9999"), Endpoint::Tcp("127.0.0.1:9999".into()));
    }

    #[test]
    fn framing_options() {
        let spec: LinkSpec = "tcp:localhost:7000?framing=lines&max_frame=1024".parse().unwrap();
        assert_eq!(spec.stream.framing, Framing::Lines);
        assert_eq!(spec.stream.max_frame, 1024);
        assert_eq!(spec.to_string(), "tcp:localhost:7000?framing=lines");
    }

    #[test]
    fn clear_errors_for_bad_specs() {
        let error = |spec: &str| spec.parse::<LinkSpec>().unwrap_err().reason;
        assert!(error("civ5").contains("expected SCHEME:ADDRESS"));
        assert!(error("tcp:localhost").contains("HOST:PORT"));
        assert!(error("tcp:localhost:0").contains("HOST:PORT"));
        assert!(error("smoke:signals").contains("unknown link scheme"));
        assert!(error("pipe:x?framing=morse").contains("unknown framing"));
        assert!(error("pipe:x?colour=red").contains("unknown option"));
        assert!(error("pipe:").contains("needs an address"));
    }
}
