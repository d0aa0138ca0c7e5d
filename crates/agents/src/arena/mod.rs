//! Agent Arena: a simulation posts every tick with all its agents'
//! observations and waits for their actions. The original decided agents
//! one at a time with no timeout; here all agents of a tick are decided at
//! once, each with its own deadline, so the tick always answers in time.
//!
//! An agent's decision comes from the first that applies:
//! 1. an agent that registered `decide` for the game: a WebSocket agent gets
//!    all agents of the tick as one batch, a webhook one POST per agent;
//! 2. the agent's configured built-in backend (`rules` or `llm`), else the
//!    arena's default backend;
//! 3. the rule-based fallback.
//!
//! An agent that errors or misses its deadline gets `idle`, with the reason;
//! so does an entry of the tick that cannot be decided (no `agent_id`).
//! Experiences the scene reported for an agent go to the agent deciding it
//! (webhook, WebSocket or model) with its next observation.

mod answer;
mod basic_tools;
mod bounded;
mod experiences;
mod metrics;
pub mod non_finite;
mod rules_view;
mod tick;
mod tools;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use gamebridge_hub::{AgentEndpoint, Game};
use gamebridge_protocol::{RawValue, WireId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use answer::{rules_tick_answer, tick_answer};
pub use experiences::Experiences;
pub use metrics::{ArenaMetrics, MetricsSnapshot};
pub use rules_view::RulesEntry;
pub use tick::{
    DEFAULT_MAX_AGENTS, Observation, RulesTick, Tick, TickError, TickShape, is_not_json, read_rules_tick,
    read_tick,
};
pub use tools::{MAX_TOOLS, Tool, ToolRegistry, to_json_schema};

use crate::llm::{LlmClient, LlmConfig};
use crate::{Decision, rules};

/// A built-in way to decide.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Backend {
    Rules,
    Llm(LlmConfig),
}

/// How an arena decides.
#[derive(Clone, Debug)]
pub struct ArenaOptions {
    /// Each agent's deadline per tick (default 25 s, under the Godot client's 30 s).
    pub deadline: Duration,
    pub default_backend: Backend,
    /// Most agents of one tick, and most agents registered with
    /// `/agents/register`: both routes need no token.
    pub max_agents: usize,
}

impl Default for ArenaOptions {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(25),
            default_backend: Backend::Rules,
            max_agents: DEFAULT_MAX_AGENTS,
        }
    }
}

pub struct Arena {
    game: Arc<Game>,
    options: ArenaOptions,
    tools: ToolRegistry,
    /// Agents registered with `POST /agents/register`, and their backend.
    agents: RwLock<HashMap<String, Option<Backend>>>,
    /// How many of them decide by a model: while none does (and no agent
    /// registered `decide`), a tick is decided by the rules from its bytes.
    model_agents: AtomicUsize,
    metrics: ArenaMetrics,
    experiences: Experiences,
    llm: LlmClient,
}

impl Arena {
    pub fn new(game: Arc<Game>, options: ArenaOptions) -> Arc<Self> {
        Arc::new(Self {
            game,
            options,
            tools: ToolRegistry::default(),
            agents: RwLock::default(),
            model_agents: AtomicUsize::new(0),
            metrics: ArenaMetrics::default(),
            experiences: Experiences::default(),
            llm: LlmClient::default(),
        })
    }

    pub fn game(&self) -> &Arc<Game> {
        &self.game
    }

    pub fn tools(&self) -> &ToolRegistry {
        &self.tools
    }

    pub fn metrics(&self) -> &ArenaMetrics {
        &self.metrics
    }

    pub fn experiences(&self) -> &Experiences {
        &self.experiences
    }

    pub fn options(&self) -> &ArenaOptions {
        &self.options
    }

    /// Registers an agent, optionally with its own backend. A new agent
    /// past `max_agents` is refused (the route needs no token, so the
    /// caller would otherwise choose how much the bridge keeps); an agent
    /// already registered may always change its backend.
    pub fn register_agent(&self, agent_id: &str, backend: Option<Backend>) -> Result<(), String> {
        let mut agents = self.agents.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if agents.len() >= self.options.max_agents && !agents.contains_key(agent_id) {
            let max = self.options.max_agents;
            tracing::warn!(
                max,
                "an Agent Arena agent registration was refused: the arena has as many as it takes"
            );
            return Err(format!(
                "at most {max} agents can be registered (raise it with agent-arena?max_agents=N)"
            ));
        }
        let by_model = |backend: &Option<Backend>| matches!(backend, Some(Backend::Llm(_)));
        let now = by_model(&backend);
        let before = agents.insert(agent_id.to_owned(), backend).is_some_and(|old| by_model(&old));
        match (before, now) {
            (false, true) => self.model_agents.fetch_add(1, Ordering::Relaxed),
            (true, false) => self.model_agents.fetch_sub(1, Ordering::Relaxed),
            _ => 0,
        };
        Ok(())
    }

    pub fn agent_count(&self) -> usize {
        self.agents.read().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    /// Reads, decides and answers a tick body. While the rules decide
    /// every agent, the body is read for them alone ([`read_rules_tick`]);
    /// otherwise (or for a body with numbers only Python reads) into trees
    /// for whoever decides ([`read_tick`]). Either answers the same bytes.
    pub async fn answer_tick(&self, body: &[u8]) -> Result<Vec<u8>, TickError> {
        let started = Instant::now();
        if self.decides_by_rules() {
            match read_rules_tick(body, self.options.max_agents) {
                Ok(tick) => {
                    let decisions = self.decide_by_rules(&tick);
                    let elapsed = started.elapsed();
                    self.metrics.record_tick(tick.entries.len(), elapsed);
                    return Ok(rules_tick_answer(&tick, &decisions, elapsed.as_secs_f64() * 1000.0));
                }
                Err(TickError::Invalid(message)) if is_not_json(&message) => {}
                Err(refused) => return Err(refused),
            }
        }
        let tick = read_tick(body, self.options.max_agents)?;
        let decisions = self.tick(&tick).await;
        Ok(tick_answer(&tick, &decisions, started.elapsed().as_secs_f64() * 1000.0))
    }

    /// Whether every agent of a tick would be decided by the rules: no
    /// agent registered `decide`, the default is the rules, and no agent
    /// chose a model.
    fn decides_by_rules(&self) -> bool {
        matches!(self.options.default_backend, Backend::Rules)
            && self.model_agents.load(Ordering::Relaxed) == 0
            && self.game.find_external("decide").is_none()
    }

    /// [`Arena::decide`] for a tick the rules decide from its bytes.
    fn decide_by_rules(&self, tick: &RulesTick) -> Vec<Decision> {
        self.game.set_state(gamebridge_hub::LinkState::Connected, Some(format!("tick {}", tick.number)));
        let invalid = tick.entries.iter().filter(|entry| entry.invalid.is_some()).count();
        if invalid > 0 {
            self.metrics.record_invalid_agents(invalid);
        }
        tick.entries.iter().map(RulesEntry::decide).collect()
    }

    /// Decides a tick's agents (see [`Arena::decide`]) and counts the tick.
    pub async fn tick(&self, tick: &Tick) -> Vec<Decision> {
        let started = Instant::now();
        let decisions = self.decide(tick.number, &tick.observations).await;
        self.metrics.record_tick(tick.observations.len(), started.elapsed());
        decisions
    }

    /// Decides every observation, concurrently and within the deadline;
    /// the answers are in the order of the observations. An observation
    /// that cannot be decided gets `idle` with the reason.
    pub async fn decide(&self, tick: u64, observations: &[Observation]) -> Vec<Decision> {
        self.game.set_state(gamebridge_hub::LinkState::Connected, Some(format!("tick {tick}")));
        let valid: Vec<&Observation> = observations.iter().filter(|seen| seen.invalid.is_none()).collect();
        if valid.len() < observations.len() {
            self.metrics.record_invalid_agents(observations.len() - valid.len());
        }
        let mut decided = match self.game.find_external("decide").map(|function| function.endpoint.clone()) {
            Some(AgentEndpoint::Channel(_)) => self.decide_as_batch(tick, &valid).await,
            Some(AgentEndpoint::Webhook { .. }) => {
                let each = valid.iter().map(|observation| self.ask_agent(tick, observation));
                futures::future::join_all(each).await
            }
            None => self.decide_built_in_all(&valid).await,
        }
        .into_iter();
        observations
            .iter()
            .map(|seen| match &seen.invalid {
                Some(why) => Decision::idle(why.clone()),
                None => decided.next().unwrap_or_else(|| self.fallback("no decision was made")),
            })
            .collect()
    }

    /// A webhook's decision for one agent: `{agent_id, tick, observation,
    /// experiences?}` in, `{tool, params, reasoning}` out.
    async fn ask_agent(&self, tick: u64, observation: &Observation) -> Decision {
        let mut args =
            json!({ "agent_id": observation.agent_id, "tick": tick, "observation": observation.data });
        self.add_experiences(&mut args, &observation.agent_id);
        let id = WireId::Text(format!("{}#{tick}", observation.agent_id));
        let asked = self.game.call_agent("decide", id, raw(&args));
        match tokio::time::timeout(self.options.deadline, asked).await {
            Ok(Ok(result)) => serde_json::from_str(result.get()).unwrap_or_else(|error| {
                self.fallback(format!("the agent's decision is not {{tool, params, reasoning}}: {error}"))
            }),
            Ok(Err(error)) => self.fallback(format!("the agent failed: {error}")),
            Err(_) => self.fallback(self.missed()),
        }
    }

    /// The experiences waiting for `agent_id`, as `experiences` of `into`.
    fn add_experiences(&self, into: &mut Value, agent_id: &str) {
        let experiences = self.experiences.take(agent_id);
        if !experiences.is_empty() {
            into["experiences"] = json!(experiences);
        }
    }

    /// A WebSocket agent's decisions for the whole tick, in one message:
    /// `{tick, agents: [{agent_id, observation, experiences?}]}` in,
    /// `{actions: [{agent_id, tool, params, reasoning}]}` out.
    async fn decide_as_batch(&self, tick: u64, observations: &[&Observation]) -> Vec<Decision> {
        // Written straight from the observations: copying a thousand
        // agents' JSON trees into a new tree first cost more than sending them.
        // Keys sorted, as a `Value` map writes them.
        #[derive(Serialize)]
        struct Batch<'a> {
            agents: Vec<BatchAgent<'a>>,
            tick: u64,
        }
        #[derive(Serialize)]
        struct BatchAgent<'a> {
            agent_id: &'a str,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            experiences: Vec<Box<RawValue>>,
            observation: &'a Value,
        }
        let agents = observations
            .iter()
            .map(|seen| BatchAgent {
                agent_id: &seen.agent_id,
                experiences: self.experiences.take(&seen.agent_id),
                observation: &seen.data,
            })
            .collect();
        let args =
            serde_json::value::to_raw_value(&Batch { agents, tick }).expect("JSON values always serialise");
        let asked = self.game.call_agent("decide", WireId::Number(tick as i64), args);
        let answer = match tokio::time::timeout(self.options.deadline, asked).await {
            Ok(Ok(result)) => result,
            Ok(Err(error)) => {
                return self.fallback_all(format!("the agent failed: {error}"), observations.len());
            }
            Err(_) => return self.fallback_all(self.missed(), observations.len()),
        };
        #[derive(Deserialize)]
        struct Answer {
            actions: Vec<AgentAction>,
        }
        #[derive(Deserialize)]
        struct AgentAction {
            agent_id: String,
            #[serde(flatten)]
            decision: Decision,
        }
        let mut by_agent: HashMap<String, Decision> = match serde_json::from_str::<Answer>(answer.get()) {
            Ok(answer) => {
                answer.actions.into_iter().map(|action| (action.agent_id, action.decision)).collect()
            }
            Err(error) => {
                let reason = format!("the agent's answer is not {{actions: [...]}}: {error}");
                return self.fallback_all(reason, observations.len());
            }
        };
        observations
            .iter()
            .map(|observation| {
                by_agent
                    .remove(&observation.agent_id)
                    .unwrap_or_else(|| self.fallback("the agent gave no action for this agent"))
            })
            .collect()
    }

    /// The built-in backends' decisions: the rules at once, in order (they
    /// take microseconds), models concurrently.
    async fn decide_built_in_all(&self, observations: &[&Observation]) -> Vec<Decision> {
        let backends: Vec<Backend> = {
            let chosen = self.agents.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            observations
                .iter()
                .map(|observation| {
                    chosen
                        .get(&observation.agent_id)
                        .cloned()
                        .flatten()
                        .unwrap_or_else(|| self.options.default_backend.clone())
                })
                .collect()
        };
        if backends.iter().all(|backend| matches!(backend, Backend::Rules)) {
            return observations.iter().map(|seen| rules::decide(&seen.data, seen.layout)).collect();
        }
        let each = observations
            .iter()
            .zip(backends)
            .map(|(observation, backend)| self.decide_built_in(observation, backend));
        futures::future::join_all(each).await
    }

    async fn decide_built_in(&self, observation: &Observation, backend: Backend) -> Decision {
        match backend {
            Backend::Rules => rules::decide(&observation.data, observation.layout),
            Backend::Llm(config) => {
                let tools = self.tools.list();
                let experiences = self.experiences.take(&observation.agent_id);
                let asked = self.llm.decide(&config, &tools, &observation.data, &experiences);
                match tokio::time::timeout(self.options.deadline, asked).await {
                    Ok(Ok(decision)) => decision,
                    Ok(Err(error)) => self.fallback(format!("the model failed: {error}")),
                    Err(_) => self.fallback(self.missed()),
                }
            }
        }
    }

    /// `idle` in place of a decision that could not be had, counted as a
    /// fallback in `/metrics`.
    fn fallback(&self, reason: impl Into<String>) -> Decision {
        self.metrics.record_fallbacks(1);
        Decision::idle(reason)
    }

    /// The same for every agent of a batch that failed as a whole.
    fn fallback_all(&self, reason: impl Into<String>, count: usize) -> Vec<Decision> {
        self.metrics.record_fallbacks(count);
        vec![Decision::idle(reason); count]
    }

    fn missed(&self) -> String {
        format!("no decision within the {} ms deadline", self.options.deadline.as_millis())
    }
}

fn raw(value: &Value) -> Box<RawValue> {
    RawValue::from_string(value.to_string()).expect("serde_json output is JSON")
}
