//! The FastAPI baseline of `gamebridge bench tick`: a Python server written
//! from Agent Arena's description (bench/arena_baseline_server.py), run as
//! a process of its own with the interpreter that has FastAPI and uvicorn.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use super::script::Script;

/// The running baseline: it serves until it is dropped.
pub struct Baseline {
    _script: Script,
    pub tick_url: String,
    pub python: PathBuf,
    /// How uvicorn serves it, as the script says: `loop=asyncio http=h11`.
    pub serving: String,
}

impl Baseline {
    pub fn start(python: Option<PathBuf>, repo: Option<PathBuf>) -> anyhow::Result<Self> {
        let repo = repo.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let script = repo.join("bench/arena_baseline_server.py");
        anyhow::ensure!(
            script.is_file(),
            "no {}: the baseline is part of the gamebridge checkout (give one with --repo DIR, or \
             leave the baseline out with --no-baseline)",
            script.display()
        );
        let chosen = python.is_some();
        let python = python.unwrap_or_else(|| default_python(&repo));
        check_packages(&python, chosen, &repo)?;
        let mut command = Command::new(&python);
        command.arg(&script).env("PYTHONDONTWRITEBYTECODE", "1");
        let mut running = Script::start("the baseline", command)?;
        let line = running.ready("listening")?;
        let Some(("listening", rest)) = line.split_once(' ') else {
            bail!("the baseline said {line:?}, not `listening HOST:PORT loop=… http=…`");
        };
        let (address, serving) = rest.split_once(' ').unwrap_or((rest, ""));
        if serving != "loop=uvloop http=httptools" {
            eprintln!(
                "note: the baseline runs with {serving}, not uvloop and httptools as the original's \
                 requirements install them (pip install 'uvicorn[standard]'), so it is slower than \
                 the original"
            );
        }
        Ok(Self {
            _script: running,
            tick_url: format!("http://{address}/tick"),
            python,
            serving: serving.to_owned(),
        })
    }
}

/// The venv `.ci/python` makes, when there is one, else `python3`.
fn default_python(repo: &Path) -> PathBuf {
    let venv = repo.join("target/python-venv/bin/python");
    if venv.is_file() { venv } else { PathBuf::from("python3") }
}

/// Fails, saying how to install them, unless `python` runs and can import
/// the baseline's packages.
fn check_packages(python: &Path, chosen: bool, repo: &Path) -> anyhow::Result<()> {
    let skip = "or leave the baseline out with --no-baseline";
    let output = Command::new(python)
        .args(["-c", "import fastapi, pydantic, uvicorn"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| {
            format!(
                "cannot run the baseline's Python interpreter {}: install Python 3, give an \
                 interpreter with --python PATH, {skip}",
                python.display()
            )
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("it failed");
    let install = if chosen {
        format!(
            "{} -m pip install 'fastapi>=0.104' 'uvicorn>=0.24'\n(or use the venv that bash .ci/python \
             makes, target/python-venv, which has them)",
            python.display()
        )
    } else {
        // The venv the benchmark looks for first: the same one `.ci/python` makes.
        format!(
            "cd {} && python3 -m venv target/python-venv && target/python-venv/bin/pip install './python[bench]'\n\
             (bash .ci/python makes the same venv, with them and the test packages)",
            repo.display()
        )
    };
    bail!(
        "{} cannot import the baseline's packages ({last}).\nInstall FastAPI and uvicorn with\n    \
         {install};\nor give an interpreter that has them with --python PATH, {skip}",
        python.display()
    )
}
