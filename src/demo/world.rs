//! A tiny turn-based world for the demo game: a few units on a 10×10 map,
//! a turn counter, and events when things happen.

use serde_json::{Value, json};

/// The functions the demo game registers, with their descriptions.
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("GetGameTurn", "The current turn number"),
    ("GetUnits", "Every unit: id, owner, kind, x, y and whether it moved this turn"),
    ("MoveUnit", "Move a unit to an adjacent tile: args [unitId, x, y] or {unitId, x, y}"),
    ("EndTurn", "End the turn; every unit may move again and a TurnStart event follows"),
    ("Echo", "Returns its arguments unchanged"),
];

struct Unit {
    id: u64,
    owner: u64,
    kind: &'static str,
    x: i64,
    y: i64,
    moved: bool,
}

/// An event the world wants the game to send: name and payload.
pub type Emitted = (String, Value);

pub struct World {
    turn: u64,
    units: Vec<Unit>,
}

const SIZE: i64 = 10;

impl Default for World {
    fn default() -> Self {
        let unit = |id, owner, kind, x, y| Unit { id, owner, kind, x, y, moved: false };
        Self {
            turn: 1,
            units: vec![unit(1, 0, "Warrior", 2, 2), unit(2, 0, "Settler", 3, 2), unit(3, 1, "Archer", 7, 7)],
        }
    }
}

impl World {
    pub fn turn(&self) -> u64 {
        self.turn
    }

    /// Runs one game function; `Err` is the message of a Lua error.
    pub fn call(&mut self, function: &str, args: &Value) -> Result<(Value, Vec<Emitted>), String> {
        match function {
            "GetGameTurn" => Ok((json!(self.turn), Vec::new())),
            "GetUnits" => Ok((json!(self.units.iter().map(unit_json).collect::<Vec<_>>()), Vec::new())),
            "MoveUnit" => self.move_unit(args),
            "EndTurn" => {
                self.turn += 1;
                self.units.iter_mut().for_each(|unit| unit.moved = false);
                Ok((json!({ "turn": self.turn }), vec![("TurnStart".into(), json!({ "turn": self.turn }))]))
            }
            "Echo" => Ok((args.clone(), Vec::new())),
            other => Err(format!("attempt to call a nil value (function '{other}')")),
        }
    }

    fn move_unit(&mut self, args: &Value) -> Result<(Value, Vec<Emitted>), String> {
        let field =
            |index: usize, name: &str| args.get(index).or_else(|| args.get(name)).and_then(Value::as_i64);
        let (Some(id), Some(x), Some(y)) = (field(0, "unitId"), field(1, "x"), field(2, "y")) else {
            return Err("MoveUnit expects [unitId, x, y]".into());
        };
        let unit = self.units.iter_mut().find(|unit| unit.id as i64 == id).ok_or(format!("no unit {id}"))?;
        if !(0..SIZE).contains(&x) || !(0..SIZE).contains(&y) {
            return Err(format!("({x}, {y}) is off the {SIZE}x{SIZE} map"));
        }
        if (unit.x - x).abs() > 1 || (unit.y - y).abs() > 1 {
            return Err(format!("unit {id} at ({}, {}) can only move to an adjacent tile", unit.x, unit.y));
        }
        if unit.moved {
            return Err(format!("unit {id} has already moved this turn; call EndTurn"));
        }
        (unit.x, unit.y, unit.moved) = (x, y, true);
        let moved = unit_json(unit);
        Ok((moved.clone(), vec![("UnitMoved".into(), moved)]))
    }
}

fn unit_json(unit: &Unit) -> Value {
    json!({ "id": unit.id, "owner": unit.owner, "kind": unit.kind, "x": unit.x, "y": unit.y, "moved": unit.moved })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_moves_once_per_turn() {
        let mut world = World::default();
        let (moved, events) = world.call("MoveUnit", &json!([1, 3, 3])).unwrap();
        assert_eq!((moved["x"].as_i64(), moved["y"].as_i64()), (Some(3), Some(3)));
        assert_eq!(events[0].0, "UnitMoved");
        assert!(
            world
                .call("MoveUnit", &json!({"unitId": 1, "x": 4, "y": 4}))
                .unwrap_err()
                .contains("already moved")
        );
        world.call("EndTurn", &json!({})).unwrap();
        assert_eq!(world.turn(), 2);
        world.call("MoveUnit", &json!({"unitId": 1, "x": 4, "y": 4})).unwrap();
    }

    #[test]
    fn bad_moves_are_errors() {
        let mut world = World::default();
        assert!(world.call("MoveUnit", &json!([1, 9, 9])).unwrap_err().contains("adjacent"));
        assert!(world.call("MoveUnit", &json!([9, 1, 1])).unwrap_err().contains("no unit"));
        assert!(world.call("MoveUnit", &json!("north")).unwrap_err().contains("expects"));
        assert!(world.call("Teleport", &json!([])).unwrap_err().contains("nil value"));
    }
}
