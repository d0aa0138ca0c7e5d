//! Link specs: one string that says how to reach a game.
//!
//! `pipe:ID`, `unix:PATH`, `tcp:HOST:PORT`, `mailbox:DIR`, with query
//! options such as `?framing=lines` or `?legacy`, or a profile name
//! (`vox-deorum`, `tf2`, `tempest`, `agent-arena`); the README lists them all.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use std::sync::Arc;

use gamebridge_protocol::codec::DEFAULT_MAX_FRAME;
use gamebridge_protocol::{FrameSpec, Framing};

use crate::stream::Endpoint;

/// A parsed link spec.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    pub transport: Transport,
    /// A JSON file describing the game's commands or frames
    /// (`manifest=PATH`, any link), or the name of a built-in one.
    pub manifest: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Transport {
    /// A byte stream the bridge connects to, or listens for (`?listen`).
    Stream { endpoint: Endpoint, options: StreamOptions },
    /// A FIFO pair `PREFIX_output` (game → bridge) and `PREFIX_input` (bridge → game).
    Fifo { prefix: PathBuf, options: StreamOptions },
    /// Files in a folder (or the TF2 file pair).
    Mailbox(MailboxOptions),
    /// The game posts to the bridge's own HTTP listener (Agent Arena's `/tick`).
    Http(HttpOptions),
}

/// Options of games that post over HTTP (Agent Arena).
#[derive(Clone, Debug, PartialEq)]
pub struct HttpOptions {
    /// Each agent's deadline per tick.
    pub deadline: std::time::Duration,
    /// Most agents of one tick (and registered agents): `max_agents=N`.
    /// `None` leaves the arena's default.
    pub max_agents: Option<usize>,
    /// The default decision backend: `rules` or `llm`.
    pub backend: String,
    /// The OpenAI-compatible endpoint of the `llm` backend, e.g. `http://127.0.0.1:8080/v1`.
    pub llm_url: Option<String>,
    pub llm_model: Option<String>,
    pub llm_temperature: Option<f64>,
    pub llm_max_tokens: Option<u32>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            deadline: std::time::Duration::from_secs(25),
            max_agents: None,
            backend: "rules".into(),
            llm_url: None,
            llm_model: None,
            llm_temperature: None,
            llm_max_tokens: None,
        }
    }
}

/// Options of stream and FIFO links.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamOptions {
    pub framing: Framing,
    /// Larger frames are refused (and skipped) rather than buffered.
    pub max_frame: usize,
    /// Accept games (each connection an instance `NAME/k`) instead of connecting.
    pub listen: bool,
    pub protocol: Protocol,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            framing: Framing::default(),
            max_frame: DEFAULT_MAX_FRAME,
            listen: false,
            protocol: Protocol::Bridge,
        }
    }
}

/// What the bytes on a link mean.
#[derive(Clone, Debug, PartialEq)]
pub enum Protocol {
    /// The JSON messages of the pipe protocol.
    Bridge,
    /// Lockstep: each frame is a call of the agent function `step`, and its
    /// reply is written back.
    Step(StepOptions),
}

/// Options of the step protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOptions {
    /// Bytes the game sends once on connect (ignored).
    pub handshake: usize,
    /// A reply of exactly this many raw bytes; `None`: length-prefixed like the frames.
    pub reply_size: Option<usize>,
    /// What the game gets when no agent answers in time (default: zeros).
    pub default_reply: Option<Vec<u8>>,
    /// How long the agent has for each frame.
    pub deadline: std::time::Duration,
    /// How long the bridge holds a frame for an agent that asked for it
    /// (`hold: true`, a learner between updates): `hold_ms=`, or the frame
    /// spec's `hold_ms`. Below the game's own patience.
    pub hold: Option<std::time::Duration>,
    /// The layout of frames and replies, from the game's manifest.
    pub frames: Option<Arc<FrameSpec>>,
}

impl Default for StepOptions {
    fn default() -> Self {
        Self {
            handshake: 0,
            reply_size: None,
            default_reply: None,
            deadline: std::time::Duration::from_secs(1),
            hold: None,
            frames: None,
        }
    }
}

impl StepOptions {
    /// The reply a frame gets when the agent does not give one.
    pub fn fallback_reply(&self) -> Vec<u8> {
        self.default_reply.clone().unwrap_or_else(|| vec![0; self.reply_size.unwrap_or(0)])
    }

    /// Takes the reply size, default reply and hold bound from a frame
    /// spec, where the link's options do not name them; options that
    /// contradict the spec are refused.
    fn apply_frames(&mut self, frames: Arc<FrameSpec>) -> Result<(), String> {
        let size = frames.reply.size();
        match self.reply_size {
            Some(reply) if reply != size => {
                return Err(format!("reply={reply} but the frame spec's replies have {size} bytes"));
            }
            _ => self.reply_size = Some(size),
        }
        match &self.default_reply {
            Some(default) if default.len() != size => {
                return Err(format!(
                    "default= has {} bytes but the frame spec's replies have {size}",
                    default.len()
                ));
            }
            Some(_) => {}
            None => self.default_reply = frames.default_reply()?,
        }
        if self.hold.is_none() {
            self.hold = frames.hold_ms.map(std::time::Duration::from_millis);
        }
        self.frames = Some(frames);
        Ok(())
    }
}

impl LinkSpec {
    /// The step options of a lockstep link (`protocol=step`).
    pub fn step_options(&self) -> Option<&StepOptions> {
        match &self.transport {
            Transport::Stream { options, .. } | Transport::Fifo { options, .. } => match &options.protocol {
                Protocol::Step(step) => Some(step),
                Protocol::Bridge => None,
            },
            Transport::Mailbox(_) | Transport::Http(_) => None,
        }
    }

    fn step_options_mut(&mut self) -> Option<&mut StepOptions> {
        match &mut self.transport {
            Transport::Stream { options, .. } | Transport::Fifo { options, .. } => {
                match &mut options.protocol {
                    Protocol::Step(step) => Some(step),
                    Protocol::Bridge => None,
                }
            }
            Transport::Mailbox(_) | Transport::Http(_) => None,
        }
    }

    /// This link with the frame spec of its manifest; only lockstep links
    /// (`protocol=step`) have frames.
    pub fn with_frames(mut self, frames: Arc<FrameSpec>) -> Result<Self, String> {
        let step =
            self.step_options_mut().ok_or("a frame spec applies to lockstep links (protocol=step) only")?;
        step.apply_frames(frames)?;
        Ok(self)
    }
}

/// Options of mailbox links.
#[derive(Clone, Debug, PartialEq)]
pub struct MailboxOptions {
    /// The folder (modern), or the prefix of `PREFIX_cmd.json` (legacy).
    pub path: PathBuf,
    /// The Transport Fever 2 file pair instead of the folder protocol.
    pub legacy: bool,
    /// A mod log file to follow into `log` events.
    pub log: Option<PathBuf>,
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

/// The profile names, for help texts.
pub const PROFILES: &[&str] = &["vox-deorum", "tf2", "tempest", "agent-arena"];

impl LinkSpec {
    /// Expands a profile name to its spec; other text is returned unchanged.
    pub fn expand_profile(text: &str) -> String {
        // A profile may take options of its own: `tempest?default=0000000000`.
        let (name, extra) = text.split_once('?').unwrap_or((text, ""));
        let mut extra: Vec<&str> = extra.split('&').filter(|option| !option.is_empty()).collect();
        let expanded = match name {
            "vox-deorum" => {
                let id =
                    std::env::var("VOX_DEORUM_PIPE_NAME").unwrap_or_else(|_| VOX_DEORUM_PIPE_ID.to_owned());
                format!("pipe:{id}")
            }
            "tf2" => "mailbox:/tmp/tf2?legacy".to_owned(),
            "tempest" => {
                // The script names its server in SOCKET_ADDRESS; `port=N`
                // moves the listener to match.
                let port = take_port(&mut extra).unwrap_or(9999);
                format!(
                    "tcp:127.0.0.1:{port}?listen&framing=u16be&handshake=2&reply=5&protocol=step\
                     &default={TEMPEST_DEFAULT_REPLY}&manifest=tempest"
                )
            }
            "agent-arena" => "http".to_owned(),
            _ => return text.to_owned(),
        };
        match (extra.is_empty(), expanded.contains('?')) {
            (true, _) => expanded,
            (false, true) => format!("{expanded}&{}", extra.join("&")),
            (false, false) => format!("{expanded}?{}", extra.join("&")),
        }
    }
}

/// What the original Tempest server answers when its agent has nothing to
/// say: no fire, no zap, no spin, and its game settings (start advanced,
/// at level 13), which the Lua script applies from every reply.
pub const TEMPEST_DEFAULT_REPLY: &str = "000000010d";

/// Takes a valid `port=N` out of a profile's options (an invalid one stays,
/// to be refused as an unknown option).
fn take_port(options: &mut Vec<&str>) -> Option<u16> {
    let at = options
        .iter()
        .position(|option| option.strip_prefix("port=").is_some_and(|port| port.parse::<u16>().is_ok()))?;
    options.remove(at).strip_prefix("port=")?.parse().ok()
}

/// The options after `?`, as `(key, value)` pairs.
fn options(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|option| !option.is_empty())
        .map(|option| option.split_once('=').unwrap_or((option, "")))
}

fn stream_transport(scheme: &str, address: &str, query: &str) -> Result<Transport, String> {
    let options = stream_options(query)?;
    let endpoint = match scheme {
        "pipe" => Endpoint::pipe(address),
        "unix" => Endpoint::Local(address.into()),
        "fifo" => {
            if options.listen {
                return Err("a FIFO pair is always waited on; ?listen does not apply".into());
            }
            return Ok(Transport::Fifo { prefix: address.into(), options });
        }
        _ => {
            let port_ok = address.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port != 0 || options.listen)
            });
            if !port_ok {
                return Err(format!("tcp:{address} needs HOST:PORT with a port from 1 to 65535"));
            }
            Endpoint::Tcp(address.to_owned())
        }
    };
    Ok(Transport::Stream { endpoint, options })
}

fn stream_options(query: &str) -> Result<StreamOptions, String> {
    let mut stream = StreamOptions::default();
    let mut step = StepOptions::default();
    let mut is_step = false;
    let number = |key: &str, value: &str| {
        value.parse::<usize>().map_err(|_| format!("{key}={value} is not a whole number"))
    };
    for (key, value) in options(query) {
        match key {
            "framing" => stream.framing = value.parse()?,
            "max_frame" => {
                stream.max_frame = Some(number(key, value)?)
                    .filter(|max| *max > 0)
                    .ok_or_else(|| format!("max_frame={value} is not a positive byte count"))?;
            }
            "listen" if value.is_empty() || value == "true" => stream.listen = true,
            "protocol" => match value {
                "bridge" => is_step = false,
                "step" => is_step = true,
                _ => return Err(format!("protocol={value} is unknown; expected bridge or step")),
            },
            "handshake" => step.handshake = number(key, value)?,
            "reply" => step.reply_size = Some(number(key, value)?).filter(|size| *size > 0),
            "default" => step.default_reply = Some(hex(value)?),
            "step_timeout_ms" => {
                let millis = Some(number(key, value)?).filter(|millis| *millis > 0);
                let millis = millis.ok_or("step_timeout_ms must be a positive number of milliseconds")?;
                step.deadline = std::time::Duration::from_millis(millis as u64);
            }
            "hold_ms" => {
                let millis = Some(number(key, value)?).filter(|millis| *millis > 0);
                let millis = millis.ok_or("hold_ms must be a positive number of milliseconds")?;
                step.hold = Some(std::time::Duration::from_millis(millis as u64));
            }
            other => {
                return Err(format!(
                    "unknown option {other:?}; expected framing, max_frame, listen, protocol, handshake, reply, \
                     default, step_timeout_ms or hold_ms"
                ));
            }
        }
    }
    if is_step {
        if !matches!(stream.framing, Framing::LengthPrefixed(_)) {
            return Err("protocol=step needs framing=u16be or framing=u32be".into());
        }
        if let (Some(size), Some(default)) = (step.reply_size, &step.default_reply)
            && default.len() != size
        {
            return Err(format!("default= has {} bytes but reply={size}", default.len()));
        }
        stream.protocol = Protocol::Step(step);
    }
    Ok(stream)
}

/// Bytes from hexadecimal text (`default=0000000000`).
fn hex(text: &str) -> Result<Vec<u8>, String> {
    gamebridge_protocol::frame_spec::hex_bytes(text)
        .ok_or_else(|| format!("default={text} is not hexadecimal bytes"))
}

fn http_transport(query: &str) -> Result<Transport, String> {
    let mut http = HttpOptions::default();
    for (key, value) in options(query) {
        match key {
            "decide_timeout_ms" => {
                let millis = value.parse::<u64>().ok().filter(|millis| *millis > 0);
                let millis = millis.ok_or("decide_timeout_ms must be a positive number of milliseconds")?;
                http.deadline = std::time::Duration::from_millis(millis);
            }
            "max_agents" => {
                let max = value.parse::<usize>().ok().filter(|max| *max > 0);
                http.max_agents = Some(max.ok_or("max_agents must be a positive number of agents")?);
            }
            "backend" if value == "rules" || value == "llm" => http.backend = value.to_owned(),
            "backend" => return Err(format!("backend={value} is unknown; expected rules or llm")),
            "llm_url" => http.llm_url = Some(value.to_owned()),
            "llm_model" => http.llm_model = Some(value.to_owned()),
            "llm_temperature" => {
                http.llm_temperature =
                    Some(value.parse().map_err(|_| format!("llm_temperature={value} is not a number"))?);
            }
            "llm_max_tokens" => {
                http.llm_max_tokens =
                    Some(value.parse().map_err(|_| format!("llm_max_tokens={value} is not a number"))?);
            }
            other => {
                return Err(format!(
                    "unknown option {other:?}; expected decide_timeout_ms, max_agents, backend, llm_url, llm_model, llm_temperature or llm_max_tokens"
                ));
            }
        }
    }
    if http.backend == "llm" && http.llm_url.is_none() {
        return Err(
            "backend=llm needs llm_url=URL (an OpenAI-compatible endpoint such as http://127.0.0.1:8080/v1)"
                .into(),
        );
    }
    Ok(Transport::Http(http))
}

fn mailbox_transport(address: &str, query: &str) -> Result<Transport, String> {
    let mut mailbox = MailboxOptions { path: address.into(), legacy: false, log: None };
    for (key, value) in options(query) {
        match key {
            "legacy" if value.is_empty() || value == "true" => mailbox.legacy = true,
            "log" if !value.is_empty() => mailbox.log = Some(value.into()),
            "log" => return Err("log=PATH needs a path".into()),
            other => return Err(format!("unknown mailbox option {other:?}; expected legacy or log=PATH")),
        }
    }
    if mailbox.log.is_some() && !mailbox.legacy {
        return Err(
            "log=PATH applies to legacy mailboxes; a modern game sends its log lines as events".into()
        );
    }
    Ok(Transport::Mailbox(mailbox))
}

impl FromStr for LinkSpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Self, SpecError> {
        let expanded = LinkSpec::expand_profile(text);
        let fail = |reason: String| SpecError { spec: text.to_owned(), reason };
        let (target, query) = expanded.split_once('?').unwrap_or((&expanded, ""));
        // `manifest=PATH` applies to every kind of link.
        let mut manifest = None;
        let query: Vec<&str> = query
            .split('&')
            .filter(|option| match option.strip_prefix("manifest=") {
                Some(path) => {
                    manifest = Some(PathBuf::from(path));
                    false
                }
                None => true,
            })
            .collect();
        let query = query.join("&");
        if manifest.as_ref().is_some_and(|path| path.as_os_str().is_empty()) {
            return Err(fail("manifest=PATH needs a path".into()));
        }
        let transport = if target == "http" {
            http_transport(&query)
        } else {
            let (scheme, address) = target.split_once(':').ok_or_else(|| {
                fail(format!(
                    "expected SCHEME:ADDRESS (pipe:ID, unix:PATH, tcp:HOST:PORT, fifo:PREFIX, mailbox:DIR), http, or a profile ({})",
                    PROFILES.join(", ")
                ))
            })?;
            if address.is_empty() {
                return Err(fail(format!("{scheme}: needs an address")));
            }
            match scheme {
                "pipe" | "unix" | "tcp" | "fifo" => stream_transport(scheme, address, &query),
                "mailbox" => mailbox_transport(address, &query),
                other => {
                    Err(format!(
                        "unknown link scheme {other:?}; expected pipe, unix, tcp, fifo or mailbox (SCHEME:ADDRESS), \
                         http, or a profile ({})",
                        PROFILES.join(", ")
                    ))
                }
            }
        }
        .map_err(fail)?;
        Ok(LinkSpec { transport, manifest })
    }
}

impl fmt::Display for LinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.transport {
            Transport::Stream { endpoint, options } => {
                write!(f, "{endpoint}")?;
                write_options(f, options)
            }
            Transport::Fifo { prefix, options } => {
                write!(f, "fifo:{}", prefix.display())?;
                write_options(f, options)
            }
            Transport::Http(_) => f.write_str("http"),
            Transport::Mailbox(mailbox) => {
                write!(f, "mailbox:{}", mailbox.path.display())?;
                if mailbox.legacy {
                    f.write_str("?legacy")?;
                }
                Ok(())
            }
        }
    }
}

/// The options that differ from the defaults, as a query.
fn write_options(f: &mut fmt::Formatter<'_>, options: &StreamOptions) -> fmt::Result {
    let mut parts = Vec::new();
    if options.listen {
        parts.push("listen".to_owned());
    }
    if options.framing != Framing::default() {
        parts.push(format!("framing={}", options.framing));
    }
    if let Protocol::Step(step) = &options.protocol {
        parts.push("protocol=step".into());
        if step.handshake > 0 {
            parts.push(format!("handshake={}", step.handshake));
        }
        if let Some(size) = step.reply_size {
            parts.push(format!("reply={size}"));
        }
        if let Some(default) = &step.default_reply {
            parts.push(format!(
                "default={}",
                default.iter().map(|byte| format!("{byte:02x}")).collect::<String>()
            ));
        }
    }
    if !parts.is_empty() {
        write!(f, "?{}", parts.join("&"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(spec: &str) -> Endpoint {
        match spec.parse::<LinkSpec>().unwrap().transport {
            Transport::Stream { endpoint, .. } => endpoint,
            other => panic!("not a stream: {other:?}"),
        }
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
        let Transport::Stream { options, .. } = &spec.transport else { panic!("not a stream") };
        assert_eq!(options.framing, Framing::Lines);
        assert_eq!(options.max_frame, 1024);
        assert_eq!(spec.to_string(), "tcp:localhost:7000?framing=lines");
    }

    #[test]
    fn mailboxes_and_the_tf2_profile() {
        let tf2: LinkSpec = "tf2".parse().unwrap();
        assert_eq!(
            tf2.transport,
            Transport::Mailbox(MailboxOptions { path: "/tmp/tf2".into(), legacy: true, log: None })
        );
        assert_eq!(tf2.to_string(), "mailbox:/tmp/tf2?legacy");
        let logged: LinkSpec = "mailbox:/tmp/tf2?legacy&log=/tmp/tf2_simple_ipc.log".parse().unwrap();
        let Transport::Mailbox(options) = logged.transport else { panic!("not a mailbox") };
        assert_eq!(options.log.as_deref(), Some(std::path::Path::new("/tmp/tf2_simple_ipc.log")));
        let modern: LinkSpec = "mailbox:/srv/game".parse().unwrap();
        assert_eq!(modern.to_string(), "mailbox:/srv/game");
    }

    #[test]
    fn the_tempest_profile_is_the_mame_scripts_wire_format() {
        let spec: LinkSpec = "tempest".parse().unwrap();
        let Transport::Stream { endpoint, options } = &spec.transport else { panic!("not a stream") };
        assert_eq!(endpoint, &Endpoint::Tcp("127.0.0.1:9999".into()));
        assert!(options.listen);
        assert_eq!(options.framing, Framing::LengthPrefixed(gamebridge_protocol::codec::PrefixWidth::U16));
        let Protocol::Step(step) = &options.protocol else { panic!("not the step protocol") };
        assert_eq!((step.handshake, step.reply_size), (2, Some(5)));
        assert_eq!(
            step.fallback_reply(),
            vec![0, 0, 0, 1, 13],
            "the original server's answer without an agent"
        );
        assert_eq!(
            spec.to_string(),
            "tcp:127.0.0.1:9999?listen&framing=u16be&protocol=step&handshake=2&reply=5&default=000000010d"
        );
        let moved: LinkSpec = "tempest?port=10000&step_timeout_ms=50".parse().unwrap();
        assert!(moved.to_string().starts_with("tcp:127.0.0.1:10000?listen"), "{moved}");
        assert!("tempest?port=x".parse::<LinkSpec>().unwrap_err().reason.contains("port"));
        let fifo: LinkSpec = "fifo:/tmp/tempest?framing=u32be&protocol=step&default=0102".parse().unwrap();
        let Transport::Fifo { options, .. } = fifo.transport else { panic!("not a FIFO") };
        let Protocol::Step(step) = options.protocol else { panic!("not the step protocol") };
        assert_eq!(step.fallback_reply(), vec![1, 2]);
    }

    #[test]
    fn agent_arena_games_post_over_http() {
        let spec: LinkSpec = "agent-arena".parse().unwrap();
        assert_eq!(spec.transport, Transport::Http(HttpOptions::default()));
        let llm: LinkSpec =
            "http?backend=llm&llm_url=http://127.0.0.1:8080/v1&decide_timeout_ms=500".parse().unwrap();
        let Transport::Http(options) = llm.transport else { panic!("not http") };
        assert_eq!((options.backend.as_str(), options.deadline.as_millis()), ("llm", 500));
        assert!("http?backend=llm".parse::<LinkSpec>().unwrap_err().reason.contains("llm_url"));
        let tuned: LinkSpec = "agent-arena?decide_timeout_ms=300".parse().unwrap();
        let Transport::Http(options) = tuned.transport else { panic!("not http") };
        assert_eq!(options.deadline.as_millis(), 300, "profiles take options");
        let bounded: LinkSpec = "agent-arena?max_agents=64".parse().unwrap();
        let Transport::Http(options) = bounded.transport else { panic!("not http") };
        assert_eq!(options.max_agents, Some(64));
        assert!("agent-arena?max_agents=0".parse::<LinkSpec>().unwrap_err().reason.contains("positive"));
        let quiet: LinkSpec = "tempest?default=0101010101".parse().unwrap();
        assert!(quiet.to_string().starts_with("tcp:127.0.0.1:9999?listen"));
        assert!("http?backend=magic".parse::<LinkSpec>().unwrap_err().reason.contains("unknown"));
    }

    #[test]
    fn any_link_takes_a_manifest() {
        let spec: LinkSpec = "tf2?manifest=manifests/tf2.json".parse().unwrap();
        assert_eq!(spec.manifest.as_deref(), Some(std::path::Path::new("manifests/tf2.json")));
        assert!(matches!(spec.transport, Transport::Mailbox(MailboxOptions { legacy: true, .. })));
        let stream: LinkSpec = "tcp:h:1?manifest=/m.json&framing=lines".parse().unwrap();
        assert_eq!(stream.manifest.as_deref(), Some(std::path::Path::new("/m.json")));
        assert!("pipe:x?manifest=".parse::<LinkSpec>().unwrap_err().reason.contains("needs a path"));
    }

    #[test]
    fn clear_errors_for_bad_specs() {
        let error = |spec: &str| spec.parse::<LinkSpec>().unwrap_err().reason;
        assert!(error("civ5").contains("expected SCHEME:ADDRESS"));
        assert!(error("tcp:localhost").contains("HOST:PORT"));
        assert!(error("tcp:localhost:0").contains("HOST:PORT"));
        assert!(error("smoke:signals").contains("unknown link scheme"));
        for named in ["http", "tempest", "vox-deorum", "agent-arena", "tf2", "fifo"] {
            assert!(error("smoke:signals").contains(named), "{named} is named");
            assert!(error("civ5").contains(named), "{named} is named");
        }
        assert!(error("pipe:x?framing=morse").contains("unknown framing"));
        assert!(error("pipe:x?colour=red").contains("unknown option"));
        assert!(error("pipe:").contains("needs an address"));
        assert!(error("mailbox:/tmp/x?framing=lines").contains("unknown mailbox option"));
        assert!(error("mailbox:/tmp/x?log=/tmp/l").contains("legacy"));
        assert!(error("pipe:x?legacy").contains("unknown option"));
        assert!(error("tcp:h:1?protocol=step").contains("u16be"));
        assert!(error("tcp:h:1?protocol=fast").contains("unknown"));
        assert!(error("tcp:h:1?framing=u16be&protocol=step&reply=5&default=00").contains("reply=5"));
        assert!(error("tcp:h:1?framing=u16be&protocol=step&default=xyz").contains("hexadecimal"));
        assert!(error("fifo:/tmp/x?listen").contains("FIFO"));
    }
}
