//! Game manifests: a JSON file describing a game's commands — name,
//! description, parameters as JSON Schema — for games that do not register
//! their functions themselves (the TF2 mod), so agents and MCP clients still
//! see typed tools; and, for a lockstep game, the layout of its frames and
//! replies (`"frames"`, see `gamebridge_protocol::frame_spec`).
//! `manifests/tf2.json` is the TF2 mod's full catalogue, `manifests/tempest.json`
//! Tempest's frames; both are built in, by the names `tf2` and `tempest`.
//!
//! ```json
//! {"game": "…", "commands": [{"name": "set_speed", "description": "…",
//!   "parameters": {"type": "object", "properties": {…}, "required": […]},
//!   "annotations": {"readOnlyHint": false, "destructiveHint": true},
//!   "outputSchema": {"type": "object", …}}],
//!  "frames": {"frame": {…}, "reply": {…}}}
//! ```
//!
//! `annotations` and `outputSchema` are MCP's: hints for a client deciding
//! whether to run a tool unasked, and the schema of the tool's result.

use std::path::Path;

use anyhow::{Context, bail};
use gamebridge_hub::FunctionInfo;
use gamebridge_protocol::FrameSpec;
use serde::Deserialize;

/// The manifests compiled into the binary, by name (`manifest=tempest`).
const BUILT_IN: &[(&str, &str)] =
    &[("tempest", include_str!("../manifests/tempest.json")), ("tf2", include_str!("../manifests/tf2.json"))];

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    commands: Vec<FunctionInfo>,
    frames: Option<serde_json::Value>,
}

/// What a manifest declares.
#[derive(Debug)]
pub struct Loaded {
    pub commands: Vec<FunctionInfo>,
    pub frames: Option<FrameSpec>,
}

/// The manifest at `path`, or the built-in one of that name, checked.
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let built_in = BUILT_IN.iter().find(|(name, _)| path.as_os_str() == *name && !path.exists());
    let text = match built_in {
        Some((_, text)) => (*text).to_owned(),
        None => std::fs::read_to_string(path).with_context(|| {
            let names: Vec<&str> = BUILT_IN.iter().map(|(name, _)| *name).collect();
            format!(
                "could not read the manifest {} (built-in manifests: {})",
                path.display(),
                names.join(", ")
            )
        })?,
    };
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("the manifest {} is not valid", path.display()))?;
    for command in &manifest.commands {
        if command.name.is_empty() {
            bail!("the manifest {} has a command without a name", path.display());
        }
        if command.annotations.as_ref().is_some_and(|annotations| !annotations.is_object()) {
            bail!("{}: the annotations of {} must be an object", path.display(), command.name);
        }
        if let Some(output) = &command.output_schema
            && output.get("type").and_then(|kind| kind.as_str()) != Some("object")
        {
            bail!(
                "{}: the outputSchema of {} must be a JSON Schema of type object",
                path.display(),
                command.name
            );
        }
        if let Some(parameters) = &command.parameters
            && parameters.get("type").and_then(|kind| kind.as_str()) != Some("object")
        {
            bail!(
                "{}: the parameters of {} must be a JSON Schema of type object",
                path.display(),
                command.name
            );
        }
    }
    let frames = manifest
        .frames
        .map(FrameSpec::from_value)
        .transpose()
        .map_err(|why| anyhow::anyhow!("{}: the frame spec is not valid: {why}", path.display()))?;
    Ok(Loaded { commands: manifest.commands, frames })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_tf2_manifest_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/tf2.json");
        let commands = load(&path).unwrap().commands;
        assert!(commands.len() >= 50, "the whole TF2 catalogue");
        let set_speed = commands.iter().find(|command| command.name == "set_speed").unwrap();
        assert_eq!(set_speed.parameters.as_ref().unwrap()["required"], serde_json::json!(["speed"]));
        let nearby = commands.iter().find(|command| command.name == "query_nearby_stations").unwrap();
        assert_eq!(nearby.parameters.as_ref().unwrap()["properties"]["radius"]["default"], 300);
    }

    #[test]
    fn bad_manifests_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        std::fs::write(&path, r#"{"commands": [{"name": "x", "parameters": {"type": "string"}}]}"#).unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("type object"));
        std::fs::write(&path, "not json").unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("not valid"));
        assert!(load(&dir.path().join("missing.json")).unwrap_err().to_string().contains("could not read"));
        std::fs::write(&path, r#"{"frames": {"frame": {"fields": []}, "reply": {"fields": []}}}"#).unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("frame layout has no fields"));
    }

    #[test]
    fn built_in_manifests_load_by_name() {
        let tempest = load(Path::new("tempest")).unwrap().frames.expect("Tempest has frames");
        assert_eq!((tempest.frame.size(), tempest.reply.size()), (819, 5), "the MAME script's sizes");
        assert_eq!(tempest.default_reply().unwrap(), Some(vec![0, 0, 0, 1, 13]));
        assert!(load(Path::new("tf2")).unwrap().commands.len() >= 50);
    }
}
