//! The README and the docs may not drift from the program: every
//! `gamebridge …` command line in their code blocks parses as the program
//! parses its own command line, and every route their tables name is one the
//! bridge serves (as `GET /` lists them).

mod support;

use clap::Parser;
use gamebridge::cli::Cli;
use support::Harness;

/// The documents a user reads, by path.
const DOCS: [(&str, &str); 14] = [
    ("README.md", include_str!("../README.md")),
    ("docs/FLEET.md", include_str!("../docs/FLEET.md")),
    ("docs/MAILBOX.md", include_str!("../docs/MAILBOX.md")),
    ("docs/PERFORMANCE.md", include_str!("../docs/PERFORMANCE.md")),
    ("docs/SECURITY.md", include_str!("../docs/SECURITY.md")),
    ("docs/TEMPEST.md", include_str!("../docs/TEMPEST.md")),
    ("docs/AGENT_ARENA.md", include_str!("../docs/AGENT_ARENA.md")),
    ("docs/WEBSOCKET.md", include_str!("../docs/WEBSOCKET.md")),
    ("docs/connect/CIV5.md", include_str!("../docs/connect/CIV5.md")),
    ("docs/connect/TEMPEST.md", include_str!("../docs/connect/TEMPEST.md")),
    ("docs/connect/TF2.md", include_str!("../docs/connect/TF2.md")),
    ("docs/connect/AGENT_ARENA.md", include_str!("../docs/connect/AGENT_ARENA.md")),
    ("lua/README.md", include_str!("../lua/README.md")),
    ("python/README.md", include_str!("../python/README.md")),
];

/// How a documented command line starts, before the program's arguments.
const PROGRAMS: [&str; 3] = ["gamebridge ", "./target/release/gamebridge ", "cargo run --release -- "];

/// The command lines of `text`'s code blocks that run gamebridge: their
/// arguments, without comments, pipes, chaining or a trailing `&`.
fn command_lines(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut commands = Vec::new();
    let mut in_code = false;
    for (number, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            continue;
        }
        let mut words = words(line);
        // `VAR=value gamebridge …`: the assignments are the shell's.
        while words.first().is_some_and(|word| word.contains('=') && !word.starts_with('-')) {
            words.remove(0);
        }
        let joined = words.join(" ") + " ";
        let Some(program) = PROGRAMS.iter().find(|program| joined.starts_with(*program)) else { continue };
        let skip = program.split_whitespace().count();
        let arguments: Vec<String> = (words.into_iter().skip(skip))
            .take_while(|word| !["|", "&&", ";", "&", ">", "2>&1"].contains(&word.as_str()))
            .collect();
        commands.push((number + 1, arguments));
    }
    commands
}

/// A shell line's words: quotes group, `#` outside them starts a comment.
fn words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut started) = (Vec::new(), String::new(), None, false);
    for character in line.chars() {
        match (quote, character) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(character);
                started = true;
            }
            (None, '#') if !started => break,
            (None, c) if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (None, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

#[test]
fn every_command_line_in_the_docs_parses() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (path, text) in DOCS {
        for (line, arguments) in command_lines(text) {
            checked += 1;
            let parsed =
                Cli::try_parse_from(std::iter::once("gamebridge".to_owned()).chain(arguments.clone()));
            if let Err(error) = parsed {
                use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
                if !matches!(error.kind(), DisplayHelp | DisplayVersion) {
                    wrong.push(format!("{path}:{line}: gamebridge {}\n{error}", arguments.join(" ")));
                }
            }
        }
    }
    assert!(checked >= 40, "the docs' command lines were found: {checked}");
    assert!(wrong.is_empty(), "{} command lines do not parse:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn shell_words_split_as_the_shell_would() {
    assert_eq!(
        words("gamebridge serve --game 'tf2=tf2?manifest=tf2'  # a comment"),
        ["gamebridge", "serve", "--game", "tf2=tf2?manifest=tf2"]
    );
    let commands = command_lines("text gamebridge demo\n```sh\nX=1 gamebridge call F '[1, 2]' | jq\n```\n");
    assert_eq!(commands, [(3, vec!["call".to_owned(), "F".to_owned(), "[1, 2]".to_owned()])]);
}

/// `METHOD /path` of every route a table row of `text` names, with path
/// parameters as `{}`.
fn table_routes(text: &str) -> Vec<String> {
    let mut routes = Vec::new();
    for line in text.lines().filter(|line| line.starts_with("| `")) {
        let first_cell = line.split(" | ").next().unwrap_or_default();
        for quoted in first_cell.split('`').skip(1).step_by(2) {
            let mut parts = quoted.split_whitespace();
            let (Some(method), Some(path)) = (parts.next(), parts.next()) else { continue };
            if ["GET", "POST", "PUT", "DELETE"].contains(&method) && path.starts_with('/') {
                routes.push(format!("{method} {}", template(path)));
            }
        }
    }
    routes
}

/// `path` with every `{parameter}` as `{}` and no query.
fn template(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let mut out = String::new();
    let mut in_parameter = false;
    for character in path.chars() {
        match character {
            '{' => {
                in_parameter = true;
                out.push_str("{}");
            }
            '}' => in_parameter = false,
            _ if in_parameter => {}
            c => out.push(c),
        }
    }
    out
}

#[tokio::test]
async fn every_route_the_docs_tables_name_is_served() {
    let harness = Harness::start(&[]).await;
    let (_, discovery) = harness.get("/").await;
    let served: Vec<String> = (discovery["result"]["routes"].as_array().unwrap().iter())
        .map(|route| {
            let route = route.as_str().unwrap().split(':').next().unwrap();
            let (method, path) = route.split_once(' ').unwrap();
            format!("{method} {}", template(path))
        })
        .collect();
    let mut named = 0;
    let mut missing = Vec::new();
    for (path, text) in DOCS {
        for route in table_routes(text) {
            named += 1;
            if !served.contains(&route) {
                missing.push(format!("{path}: {route}"));
            }
        }
    }
    assert!(named >= 20, "the docs' route tables were found: {named}");
    assert!(
        missing.is_empty(),
        "routes the docs name but the bridge does not serve:\n{}",
        missing.join("\n")
    );
}
