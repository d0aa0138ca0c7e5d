//! Game manifests: a JSON file describing a game's commands — name,
//! description, parameters as JSON Schema — for games that do not register
//! their functions themselves (the TF2 mod), so agents and MCP clients still
//! see typed tools. `manifests/tf2.json` is the TF2 mod's full catalogue.
//!
//! ```json
//! {"game": "…", "commands": [{"name": "set_speed", "description": "…",
//!   "parameters": {"type": "object", "properties": {…}, "required": […]},
//!   "annotations": {"readOnlyHint": false, "destructiveHint": true},
//!   "outputSchema": {"type": "object", …}}]}
//! ```
//!
//! `annotations` and `outputSchema` are MCP's: hints for a client deciding
//! whether to run a tool unasked, and the schema of the tool's result.

use std::path::Path;

use anyhow::{Context, bail};
use gamebridge_hub::FunctionInfo;
use serde::Deserialize;

#[derive(Deserialize)]
struct Manifest {
    commands: Vec<FunctionInfo>,
}

/// The commands of the manifest at `path`, checked.
pub fn load(path: &Path) -> anyhow::Result<Vec<FunctionInfo>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the manifest {}", path.display()))?;
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
    Ok(manifest.commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_tf2_manifest_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/tf2.json");
        let commands = load(&path).unwrap();
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
    }
}
