//! The README's commands run, not only parse (tests/readme.rs parses them):
//! a real `gamebridge demo` is started on a free port, and every `curl` line
//! it prints, and every line of each README code block marked with
//! [`MARKER`], runs through `sh -c` as a user would paste it. Only the
//! address is changed to the demo's, and `gamebridge` is the binary under
//! test (first on `PATH`, with `GAMEBRIDGE_URL` set to the demo's URL).
//!
//! Each line must exit 0 and do what its kind promises: a `curl` line answers
//! the bridge's envelope with `"success": true`, `gamebridge call` prints its
//! result as JSON, `gamebridge status` lists the demo game connected. Event
//! streams (`curl -N …/events`, `gamebridge events`) never end: they start
//! first, in the background, and once the other lines have run they must have
//! printed an event (of every type their `--types` or `types=` names).

mod support;

use std::fmt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const README: &str = include_str!("../README.md");

/// Longest a process may take to print what it is awaited for, or to end:
/// three times [`support::STEP`], as every step here starts a process (a
/// debug binary, or `sh` and `curl`) on what may be a loaded 2-core machine.
const STEP: Duration = support::STEP.saturating_mul(3);

/// The line right before a README code block whose every line runs against
/// `gamebridge demo`: the README's editors see the contract where they edit.
const MARKER: &str = "<!-- runs against the demo (tests/readme_runs.rs) -->";

/// One command line to run, and where it was written.
#[derive(Clone, Debug)]
struct Line {
    /// `README.md:LINE`, or the demo's output.
    origin: String,
    /// As written.
    written: String,
    /// As run: against the demo's address.
    run: String,
}

impl fmt::Display for Line {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: `{}`", self.origin, without_comment(&self.written))?;
        if self.run != self.written {
            write!(formatter, " (run as `{}`)", self.command())?;
        }
        Ok(())
    }
}

/// A shell line without its trailing `# comment`.
fn without_comment(line: &str) -> &str {
    line.split(" #").next().unwrap_or_default().trim()
}

impl Line {
    fn new(origin: String, written: &str, address: &str) -> Self {
        // The README's commands address the default port; the demo here runs on a free one.
        let run = written.replace("localhost:5000", address).replace("127.0.0.1:5000", address);
        Self { origin, written: written.to_owned(), run }
    }

    /// The command as run, without its trailing `# comment`.
    fn command(&self) -> &str {
        without_comment(&self.run)
    }

    fn kind(&self) -> Kind {
        let words: Vec<&str> = self.command().split_whitespace().collect();
        let no_buffer = |word: &&str| {
            *word == "--no-buffer" || (word.starts_with('-') && !word.starts_with("--") && word.contains('N'))
        };
        match words.as_slice() {
            ["curl", flags @ ..] if flags.iter().any(no_buffer) => Kind::Stream,
            ["curl", ..] => Kind::Curl,
            ["gamebridge", "events", ..] => Kind::Stream,
            ["gamebridge", "call", ..] => Kind::Call,
            ["gamebridge", "status", ..] => Kind::Status,
            _ => Kind::Other,
        }
    }

    /// The event types the line asks for (`--types A,B` or `types=A,B`);
    /// empty for all.
    fn event_types(&self) -> Vec<String> {
        let command = self.command();
        let words: Vec<&str> = command.split_whitespace().collect();
        let value = (words.windows(2).find(|pair| pair[0] == "--types").map(|pair| pair[1]))
            .or_else(|| command.split_once("types=").and_then(|(_, rest)| rest.split(['&', ' ']).next()));
        value.map_or_else(Vec::new, |value| {
            value.trim_matches(['\'', '"']).split(',').map(str::to_owned).collect()
        })
    }
}

/// What a line is expected to do.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Follows the event stream until it is stopped.
    Stream,
    /// Answers the bridge's envelope.
    Curl,
    /// Prints a game function's result.
    Call,
    /// Prints the games table.
    Status,
    /// Anything else: it only has to succeed.
    Other,
}

/// The command lines of the README's code blocks that follow [`MARKER`].
fn marked_lines(readme: &str, address: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut numbered = readme.lines().enumerate().map(|(index, line)| (index + 1, line));
    while let Some((number, line)) = numbered.next() {
        if line.trim() != MARKER {
            continue;
        }
        let fence = numbered.next().map(|(_, line)| line.trim_start());
        assert!(
            fence.is_some_and(|fence| fence.starts_with("```")),
            "README.md:{number}: the marker must be right before a code block's fence"
        );
        for (number, line) in numbered.by_ref() {
            let line = line.trim();
            if line.starts_with("```") {
                break;
            }
            if !line.is_empty() && !line.starts_with('#') {
                lines.push(Line::new(format!("README.md:{number}"), line, address));
            }
        }
    }
    lines
}

/// The commands the demo tells its user to try: the lines after `Try:` up
/// to the blank line that ends them; `None` until that has been printed.
fn suggested(stdout: &[String]) -> Option<Vec<String>> {
    let start = stdout.iter().position(|line| line.trim() == "Try:")? + 1;
    let count = stdout[start..].iter().position(|line| line.trim().is_empty())?;
    Some(stdout[start..start + count].iter().map(|line| line.trim().to_owned()).collect())
}

/// The demo's agent API URL, from its `Agent API: URL` line.
fn agent_url(stdout: &[String]) -> Option<String> {
    let line = stdout.iter().find_map(|line| line.split_once("Agent API: "))?.1;
    line.split_whitespace().next().map(str::to_owned)
}

/// Whether a stream printed its `connected` greeting: from then on it
/// receives every new event, so the lines that cause events may run.
fn greeted(stdout: &[String]) -> bool {
    stdout.iter().any(|line| {
        line == "event: connected"
            || serde_json::from_str::<Value>(line).is_ok_and(|event| event["event"] == "connected")
    })
}

/// The types of the game events in a stream's output: SSE `data:` lines
/// (curl) or `gamebridge events`' JSON lines. Greetings and pings have no type.
fn event_types(stdout: &[String]) -> Vec<String> {
    let data = |line: &String| -> Option<Value> {
        match line.strip_prefix("data: ") {
            Some(data) => serde_json::from_str(data).ok(),
            None => serde_json::from_str::<Value>(line).ok()?.get("data").cloned(),
        }
    };
    stdout.iter().filter_map(|line| Some(data(line)?.get("type")?.as_str()?.to_owned())).collect()
}

/// What a process printed so far, line by line.
#[derive(Default)]
struct Printed {
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl fmt::Display for Printed {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let block =
            |lines: &[String]| if lines.is_empty() { "(nothing)".to_owned() } else { lines.join("\n") };
        write!(formatter, "--- stdout:\n{}\n--- stderr:\n{}", block(&self.stdout), block(&self.stderr))
    }
}

/// Which pipe a line of output came from.
#[derive(Clone, Copy)]
enum Pipe {
    Out,
    Err,
}

/// A process whose output is gathered as it comes, so a test can await a
/// line (no sleeps) and a failure can show everything it printed.
struct Running {
    /// What it is, for messages: the README line, or the demo.
    what: String,
    child: Child,
    output: mpsc::UnboundedReceiver<(Pipe, String)>,
    printed: Printed,
}

impl Running {
    /// Starts `command` in a process group of its own, so [`Running::stop`]
    /// ends whatever `sh` started too.
    fn spawn(what: String, mut command: Command) -> Self {
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.process_group(0).spawn().expect("spawn");
        let (sender, output) = mpsc::unbounded_channel();
        forward(child.stdout.take().expect("stdout"), Pipe::Out, sender.clone());
        forward(child.stderr.take().expect("stderr"), Pipe::Err, sender);
        Self { what, child, output, printed: Printed::default() }
    }

    /// Runs `line` through `sh -c`, with `gamebridge` the binary under test
    /// and `GAMEBRIDGE_URL` the bridge at `url`.
    fn shell(line: &Line, url: &str) -> Self {
        let binary = Path::new(env!("CARGO_BIN_EXE_gamebridge"));
        let path = std::env::var_os("PATH").unwrap_or_default();
        let directories = std::iter::once(binary.parent().expect("a directory").to_owned())
            .chain(std::env::split_paths(&path));
        let mut command = Command::new("sh");
        command.args(["-c", &line.run]);
        command.env("PATH", std::env::join_paths(directories).expect("PATH"));
        // The developer's log filter and token may not leak into what runs.
        command.env("GAMEBRIDGE_URL", url).env_remove("GAMEBRIDGE_TOKEN").env_remove("RUST_LOG");
        Self::spawn(line.to_string(), command)
    }

    /// Gathers output until `done` holds; fails, naming the process and what
    /// it printed, if it ends first or [`STEP`] passes.
    async fn until(&mut self, what: &str, done: impl Fn(&Printed) -> bool) {
        let deadline = tokio::time::Instant::now() + STEP;
        while !done(&self.printed) {
            if !self.read(deadline, what).await {
                let status = self.wait().await;
                panic!(
                    "{} ended ({status}) before it would {what}; it printed:\n{}",
                    self.what, self.printed
                );
            }
        }
    }

    /// Gathers output until the process ends, within [`STEP`]; its status.
    async fn finish(&mut self) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + STEP;
        while self.read(deadline, "end").await {}
        self.wait().await
    }

    /// Keeps the next line of output; false once both pipes are closed.
    async fn read(&mut self, deadline: tokio::time::Instant, what: &str) -> bool {
        match tokio::time::timeout_at(deadline, self.output.recv()).await {
            Ok(Some(line)) => {
                self.keep(line);
                true
            }
            Ok(None) => false,
            Err(_) => panic!("{} did not {what} within {STEP:?}; it printed:\n{}", self.what, self.printed),
        }
    }

    fn keep(&mut self, (pipe, line): (Pipe, String)) {
        match pipe {
            Pipe::Out => self.printed.stdout.push(line),
            Pipe::Err => self.printed.stderr.push(line),
        }
    }

    async fn wait(&mut self) -> ExitStatus {
        let exited = tokio::time::timeout(STEP, self.child.wait()).await;
        exited.unwrap_or_else(|_| panic!("{} closed its output but did not exit", self.what)).expect("wait")
    }

    /// Ends the process and everything it started, and reaps it.
    async fn stop(&mut self) {
        self.signal_group("KILL");
        self.wait().await;
    }

    /// Sends `signal` to the process group, unless the process was reaped
    /// (then its id may be another's).
    fn signal_group(&self, signal: &str) {
        if let Some(pid) = self.child.id() {
            let mut kill = std::process::Command::new("kill");
            let _ =
                kill.args([&format!("-{signal}"), "--", &format!("-{pid}")]).stderr(Stdio::null()).status();
        }
    }
}

/// A test that failed midway leaves no stream or demo running. SIGTERM, so
/// the demo still removes its socket.
impl Drop for Running {
    fn drop(&mut self) {
        self.signal_group("TERM");
    }
}

/// Sends each line `pipe` prints to `sender`, until it closes.
fn forward(
    pipe: impl AsyncRead + Unpin + Send + 'static,
    which: Pipe,
    sender: mpsc::UnboundedSender<(Pipe, String)>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if sender.send((which, line)).is_err() {
                break;
            }
        }
    });
}

/// Fails the test: `line` did not do what it promises.
fn fail(line: &Line, why: &str, printed: &Printed) -> ! {
    panic!("{line} {why}; it printed:\n{printed}")
}

/// Fails, naming the line and what it printed, unless the finished `line`
/// exited 0 and did what its kind promises.
fn check(line: &Line, status: ExitStatus, printed: &Printed) {
    if !status.success() {
        fail(line, &format!("exited with {status}"), printed);
    }
    let stdout = printed.stdout.join("\n");
    match line.kind() {
        Kind::Curl => match serde_json::from_str::<Value>(&stdout) {
            Ok(answer) if answer["success"] == true => {}
            Ok(_) => fail(line, "answered without `\"success\": true`", printed),
            Err(_) => fail(line, "answered no JSON", printed),
        },
        Kind::Call if serde_json::from_str::<Value>(&stdout).is_err() => {
            fail(line, "printed no JSON result", printed)
        }
        Kind::Status
            if !printed.stdout.iter().any(|row| row.split_whitespace().take(2).eq(["demo", "connected"])) =>
        {
            fail(line, "listed no game `demo` connected", printed)
        }
        _ => {}
    }
}

/// Awaits the events `line`'s stream must have printed once every other
/// line ran: one of each type it asks for (any, if it names none), and
/// none of a type it did not ask for; `gamebridge events` prints one JSON
/// line per event.
async fn check_stream(line: &Line, stream: &mut Running) {
    let wanted = line.event_types();
    let enough = |printed: &Printed| {
        let seen = event_types(&printed.stdout);
        if wanted.is_empty() { !seen.is_empty() } else { wanted.iter().all(|kind| seen.contains(kind)) }
    };
    let what = if wanted.is_empty() {
        "print an event".to_owned()
    } else {
        format!("print an event of each type {wanted:?}")
    };
    stream.until(&what, enough).await;
    let unasked = event_types(&stream.printed.stdout)
        .into_iter()
        .find(|kind| !wanted.is_empty() && !wanted.contains(kind));
    if let Some(kind) = unasked {
        fail(line, &format!("printed an event of type {kind}, which it did not ask for"), &stream.printed);
    }
    let json_lines = stream.printed.stdout.iter().all(|event| serde_json::from_str::<Value>(event).is_ok());
    if line.command().starts_with("gamebridge ") && !json_lines {
        fail(line, "printed a line that is not JSON", &stream.printed);
    }
}

/// One demo for every line, in order: the streams first, then the demo's own
/// lines, then the README's in the README's order. The demo's world carries
/// over from line to line (a unit moves once a turn, `EndTurn` frees it), as
/// it does for a user who pastes them in that order.
#[tokio::test]
async fn the_demo_runs_its_own_and_the_readmes_marked_commands() {
    let mut demo_command = Command::new(env!("CARGO_BIN_EXE_gamebridge"));
    demo_command.args(["demo", "--listen", "127.0.0.1:0"]).env_remove("RUST_LOG");
    let mut demo = Running::spawn("gamebridge demo --listen 127.0.0.1:0".into(), demo_command);
    demo.until("print the commands to try", |printed| suggested(&printed.stdout).is_some()).await;
    let url =
        agent_url(&demo.printed.stdout).unwrap_or_else(|| panic!("no Agent API line:\n{}", demo.printed));
    assert!(!url.ends_with(":0"), "the demo prints the port it listens on, not the 0 it was given: {url}");
    let tried = suggested(&demo.printed.stdout).expect("awaited");
    assert!(
        !tried.is_empty() && tried.iter().all(|line| line.contains(&url)),
        "the demo's lines to try address it at {url}:\n{}",
        demo.printed
    );
    demo.until("connect its game", |printed| {
        printed.stderr.iter().any(|line| line.contains("game connected"))
    })
    .await;

    let address = url.trim_start_matches("http://");
    let marked = marked_lines(README, address);
    assert!(
        marked.len() >= 6 && marked.iter().any(|line| line.kind() == Kind::Stream),
        "the README marks its blocks that run against the demo with {MARKER}: {marked:#?}"
    );
    let lines = tried.iter().map(|text| Line::new("the demo's output".into(), text, address)).chain(marked);
    let (streams, others): (Vec<Line>, Vec<Line>) = lines.partition(|line| line.kind() == Kind::Stream);

    // The streams start from the live end: they must be reading before any event happens.
    let mut running = Vec::new();
    for line in streams {
        let mut stream = Running::shell(&line, &url);
        stream.until("greet (`connected`)", |printed| greeted(&printed.stdout)).await;
        running.push((line, stream));
    }
    for line in others {
        let mut process = Running::shell(&line, &url);
        let status = process.finish().await;
        check(&line, status, &process.printed);
    }
    for (line, stream) in &mut running {
        check_stream(line, stream).await;
        stream.stop().await;
    }

    let shutdown = reqwest::Client::new().post(format!("{url}/shutdown")).send();
    support::within("POST /shutdown", shutdown).await.expect("POST /shutdown");
    let status = demo.finish().await;
    assert!(status.success(), "the demo stops cleanly ({status}):\n{}", demo.printed);
}

#[test]
fn marked_blocks_and_their_lines_are_found() {
    let readme = "```sh\ngamebridge serve\n```\n<!-- runs against the demo (tests/readme_runs.rs) -->\n```sh\n\
                  # a comment\ncurl -s localhost:5000/health   # health\ncurl -sN 'localhost:5000/events?types=A,B'\n\
                  gamebridge events --types C\n```\ngamebridge status\n";
    let lines = marked_lines(readme, "127.0.0.1:1");
    let found: Vec<_> =
        lines.iter().map(|line| (line.origin.as_str(), line.command(), line.kind())).collect();
    assert_eq!(
        found,
        [
            ("README.md:7", "curl -s 127.0.0.1:1/health", Kind::Curl),
            ("README.md:8", "curl -sN '127.0.0.1:1/events?types=A,B'", Kind::Stream),
            ("README.md:9", "gamebridge events --types C", Kind::Stream),
        ]
    );
    assert_eq!(lines[1].event_types(), ["A", "B"]);
    assert_eq!(lines[2].event_types(), ["C"]);
    assert!(lines[0].event_types().is_empty());
}
