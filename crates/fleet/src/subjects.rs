//! The NATS subjects of a fleet. Every subject starts with the fleet's
//! prefix (`gamebridge` unless configured), so several fleets can share one
//! NATS server, and names what it carries:
//!
//! | subject | what |
//! |---|---|
//! | `PREFIX.hello.NODE` | a node's games and their functions, every second and on change |
//! | `PREFIX.bye.NODE` | a node leaving (its games leave the fleet at once) |
//! | `PREFIX.node.NODE.here` | request/reply: answered by the node of that name (a bridge joining under a taken name is refused) |
//! | `PREFIX.node.NODE.game.GAME.call` | a call of a game, request/reply, answered by its node |
//! | `PREFIX.agents.GAME.FUNCTION` | a game's call of an agent function (a lockstep frame for `step`), request/reply, to one node of the queue group `agents` |
//! | `PREFIX.events.NODE.GAME.TYPE` | an event of a game, as its node's SSE clients get it; kept in the stream `PREFIX_EVENTS` |
//!
//! Game and node names become subject tokens by [`token`]: a NATS token
//! cannot hold `.`, `*`, `>` or white space, and instance names hold `/`.

/// The subjects of one fleet, as seen from one node.
#[derive(Clone, Debug)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned() }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn hello(&self, node: &str) -> String {
        format!("{}.hello.{}", self.prefix, token(node))
    }

    /// Every node's hello.
    pub fn every_hello(&self) -> String {
        format!("{}.hello.*", self.prefix)
    }

    pub fn bye(&self, node: &str) -> String {
        format!("{}.bye.{}", self.prefix, token(node))
    }

    pub fn every_bye(&self) -> String {
        format!("{}.bye.*", self.prefix)
    }

    /// Answered by the node called `node`, if there is one: a bridge
    /// joining under a name already taken hears so.
    pub fn roll_call(&self, node: &str) -> String {
        format!("{}.node.{}.here", self.prefix, token(node))
    }

    /// Where calls of `game`, which `node` runs, go.
    pub fn call(&self, node: &str, game: &str) -> String {
        format!("{}.node.{}.game.{}.call", self.prefix, token(node), token(game))
    }

    /// Every call of a game `node` runs.
    pub fn calls_to(&self, node: &str) -> String {
        format!("{}.node.{}.game.*.call", self.prefix, token(node))
    }
}

impl Subjects {
    /// Where an event of type `kind` of `game`, which `node` runs, is published.
    pub fn event(&self, node: &str, game: &str, kind: &str) -> String {
        format!("{}.events.{}.{}.{}", self.prefix, token(node), token(game), token(kind))
    }

    /// Every event of every node.
    pub fn every_event(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    /// Every event of `game`, whichever node runs it.
    pub fn events_of_game(&self, game: &str) -> String {
        format!("{}.events.*.{}.*", self.prefix, token(game))
    }

    /// The node, game and type tokens of an event's subject.
    pub fn event_parts<'a>(&self, subject: &'a str) -> Option<(&'a str, &'a str, &'a str)> {
        let rest = subject.strip_prefix(&self.prefix)?.strip_prefix(".events.")?;
        let mut tokens = rest.split('.');
        let parts = (tokens.next()?, tokens.next()?, tokens.next()?);
        tokens.next().is_none().then_some(parts)
    }

    /// The node and game tokens of an event's subject.
    pub fn event_source<'a>(&self, subject: &'a str) -> Option<(&'a str, &'a str)> {
        self.event_parts(subject).map(|(node, game, _kind)| (node, game))
    }
}

impl Subjects {
    /// Where a game's node says that a frame of the game got the default
    /// reply: to every node serving its `step`, as only the one that held
    /// the frame knows it did.
    pub fn step_defaults(&self, game: &str) -> String {
        format!("{}.defaulted.{}", self.prefix, token(game))
    }

    /// Where a game's calls of the agent function `function` go, to the
    /// queue group [`AGENT_QUEUE`] of every node whose agents serve it.
    pub fn agents(&self, game: &str, function: &str) -> String {
        format!("{}.agents.{}.{}", self.prefix, token(game), token(function))
    }
}

/// The queue group of the nodes serving an agent function: each call goes
/// to one of them.
pub const AGENT_QUEUE: &str = "agents";

/// `name` as one subject token: letters, digits, `-` and `_` as they are,
/// every other byte as `~` and two hex digits. Distinct names stay
/// distinct (`~` itself is escaped).
pub fn token(name: &str) -> String {
    let mut token = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            token.push(byte as char);
        } else {
            token.push_str(&format!("~{byte:02x}"));
        }
    }
    if token.is_empty() {
        token.push('~');
    }
    token
}

/// The name a [`token`] was made from; `None` for text no token is.
pub fn untoken(token: &str) -> Option<String> {
    if token == "~" {
        return Some(String::new());
    }
    let mut bytes = Vec::with_capacity(token.len());
    let mut rest = token.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'~' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_single_tokens_and_stay_distinct() {
        assert_eq!(token("civ5"), "civ5");
        assert_eq!(token("tempest/12"), "tempest~2f12");
        assert_eq!(token("a.b c*>"), "a~2eb~20c~2a~3e");
        assert_ne!(token("a~2f"), token("a/"));
        assert_eq!(token(""), "~");
        assert_eq!(token("é"), "~c3~a9");
        for name in ["civ5", "tempest/12", "a.b c*>", "a~2f", "", "é"] {
            assert_eq!(untoken(&token(name)).as_deref(), Some(name));
        }
        assert_eq!(untoken("~4"), None);
        assert_eq!(untoken("~zz"), None);
    }

    #[test]
    fn subjects_name_the_node_and_the_game() {
        let subjects = Subjects::new("gamebridge");
        assert_eq!(subjects.call("box-1", "tempest/3"), "gamebridge.node.box-1.game.tempest~2f3.call");
        assert_eq!(subjects.calls_to("box-1"), "gamebridge.node.box-1.game.*.call");
        assert_eq!(subjects.hello("box.1"), "gamebridge.hello.box~2e1");
        let event = subjects.event("box-1", "civ5", "Unit.Moved");
        assert_eq!(event, "gamebridge.events.box-1.civ5.Unit~2eMoved");
        assert_eq!(subjects.event_source(&event), Some(("box-1", "civ5")));
        assert_eq!(subjects.event_parts(&event), Some(("box-1", "civ5", "Unit~2eMoved")));
        assert_eq!(subjects.events_of_game("tempest/3"), "gamebridge.events.*.tempest~2f3.*");
        assert_eq!(subjects.event_source("gamebridge.events.a.b"), None);
        assert_eq!(subjects.event_source("other.events.a.b.c"), None);
    }
}
