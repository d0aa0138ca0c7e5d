//! The fault suite (issue 8): every link, and every kind of agent, under the
//! faults a bridge meets in the field. Run it with `cargo test --test faults`.
//!
//! Each test asserts, where it applies: the bridge stays up (a later call,
//! tick or frame is served, `/health` and `/stats` answer); every call gets
//! a result or a clear error code (`DLL_DISCONNECTED`, `CALL_TIMEOUT`,
//! `NETWORK_ERROR`, `SERIALIZATION_ERROR`, …), at once when the bridge can
//! know, not at the deadline; nothing runs twice, nor after its caller was
//! told it failed; no event a client can still resume is lost; memory stays
//! bounded (nothing left pending, instances removed, files cleaned up, RSS).
//! The bridge is always the real one, over real sockets, FIFOs, files and
//! HTTP; only the other side (game, agent, client) is played by the test.
//! No test sleeps to synchronise, and none measures wall-clock time:
//! deadlines that must not be what ends a call are set far away (600 s),
//! so a bridge that waited for them fails the test's 10 s step limit.
//!
//! # Game faults, link × fault
//!
//! `bp::F::L` is `bridge_protocol::F::L`: one scenario `F`, written once,
//! run on each link `L` that carries the JSON pipe protocol. A name with a
//! file is a test of another target, which covers that cell already.
//!
//! | link | dies mid-call | restarts | garbage | truncated | oversized | 10,000 in flight |
//! |---|---|---|---|---|---|---|
//! | stream connect, `unix:PATH` | `bp::game_dies_mid_call::unix_connect` | `bp::game_restarts::unix_connect` | `bp::garbage_frames::unix_connect` | `bp::truncated_frame::unix_connect` | `bp::oversized_frame::unix_connect` | tests/game_link.rs `ten_thousand_calls_in_flight_each_get_their_own_answer` |
//! | stream connect, `tcp:HOST:PORT` | `bp::game_dies_mid_call::tcp_connect` | `bp::game_restarts::tcp_connect` | `bp::garbage_frames::tcp_connect` | `bp::truncated_frame::tcp_connect` | `bp::oversized_frame::tcp_connect` | `bp::ten_thousand_calls_in_flight::tcp_connect` |
//! | stream listen, `unix:PATH?listen` (instances `NAME/k`) | `bp::game_dies_mid_call::unix_listen` | `bp::game_restarts::unix_listen` | `bp::garbage_frames::unix_listen` | `bp::truncated_frame::unix_listen` | `bp::oversized_frame::unix_listen` | `bp::ten_thousand_calls_in_flight::unix_listen` |
//! | FIFO pair, `fifo:PREFIX` | `bp::game_dies_mid_call::fifo` | `bp::game_restarts::fifo`, `fifo::a_call_the_dead_game_never_read_does_not_reach_the_next_game` | `bp::garbage_frames::fifo` | `bp::truncated_frame::fifo` | `bp::oversized_frame::fifo` | `bp::ten_thousand_calls_in_flight::fifo` |
//! | lockstep, `protocol=step`, TCP listen | `step::a_game_that_dies_mid_frame_is_removed_and_its_successor_served` | the same; tests/lockstep.rs `a_killed_instance_is_removed_and_its_number_reused` | n/a from the game: a frame is opaque bytes, any bytes are a valid frame; from the agent: `step::garbage_replies_from_the_agent_cost_one_default_reply_and_nothing_else` | `step::a_frame_cut_short_never_reaches_the_agent` | `step::an_oversized_frame_gets_the_default_reply_at_once_and_the_stream_goes_on` | `step::ten_thousand_frames_from_five_hundred_instances_each_get_their_own_reply` (one frame in flight per instance by protocol) |
//! | mailbox legacy (TF2), `mailbox:PREFIX?legacy` | `mailbox_legacy::a_command_the_game_took_and_never_answered_times_out_and_is_not_sent_again`; before taking it: tests/mailbox_legacy.rs `a_call_that_timed_out_never_runs_later` | `mailbox_legacy::a_command_answered_by_a_game_that_died_before_clearing_it_never_runs_again` | tests/mailbox_legacy.rs `garbage_half_written_and_stale_answers_are_read_again` | the same test (half-written answers) | n/a: no framing, a file is one message whatever its size | `mailbox_legacy::ten_thousand_calls_in_flight_to_a_stalled_game_all_time_out_and_none_runs_later` (one slot: one command at a time) |
//! | mailbox modern, `mailbox:DIR` | `mailbox_modern::a_game_that_goes_quiet_mid_call_fails_it_and_never_runs_it_when_it_comes_back` | `mailbox_modern::a_game_that_restarts_mid_call_fails_it_at_once_and_the_new_game_never_runs_it` | `mailbox_modern::garbage_in_the_outbox_and_in_an_answer_is_counted_and_the_call_fails_at_once` | `mailbox_modern::half_written_answers_and_outbox_lines_are_read_only_when_whole` | n/a: no framing, a file is one message whatever its size | `mailbox_modern::ten_thousand_calls_in_flight_each_get_their_own_answer` |
//! | http (Agent Arena), the game posts `/tick` | `arena::a_simulation_that_disconnects_mid_tick_leaves_the_bridge_serving` | `arena::a_restarted_simulation_registers_its_agents_again_and_ticks_from_one` | `arena::garbage_bodies_are_refused_and_decide_nothing` | `arena::truncated_requests_decide_nothing` | `arena::an_oversized_tick_is_refused_with_413_and_decides_nothing` | `arena::ten_thousand_agent_decisions_in_flight_each_get_their_own_action` |
//!
//! # Memory bounds
//!
//! `memory::…`: a game sending 1 GB of events costs the event ring's byte
//! budget; ticks of 300,000 agents are refused while parsed; calls, external
//! calls and registrations past their bounds are refused with a clear code
//! (docs/SECURITY.md, "Memory bounds").
//!
//! # Agent faults
//!
//! | agent | dies mid-call | answers late | stops reading |
//! |---|---|---|---|
//! | webhook (external functions) | `agents::a_webhook_agent_that_crashes_mid_call_fails_the_call_at_once_and_is_not_asked_again` | `agents::a_webhook_agent_that_answers_late_costs_a_timeout_and_its_answer_is_dropped`; on a lockstep game: tests/lockstep.rs `an_agent_that_misses_the_deadline_costs_the_game_one_default_reply`; in an arena tick: tests/arena.rs `a_hundred_agents_and_one_too_slow_the_tick_still_answers_in_time` | n/a: the bridge reads one answer per request |
//! | WebSocket `/agent` | `agents::a_websocket_agent_that_disconnects_mid_call_fails_the_call_at_once_and_is_unregistered`, `agents::a_websocket_agent_that_disconnects_mid_frame_costs_one_default_reply_at_once`, `agents::a_websocket_agent_that_disconnects_mid_tick_leaves_every_agent_idle_with_the_reason` | `agents::a_websocket_agent_that_answers_late_costs_a_timeout_and_its_answer_is_dropped` | n/a here: its queue to the socket is bounded (4096) and calls to it time out |
//! | REST caller (`/lua/call`) | `agents::a_rest_agent_that_hangs_up_mid_call_leaves_nothing_pending` | n/a: the agent is the caller | n/a: one answer per request |
//! | SSE client (`/events`) | n/a: it sends nothing; resuming is tested below | n/a | `sse::a_client_that_stops_reading_resumes_from_its_last_event_id_and_loses_nothing`, `sse::a_client_that_stops_reading_costs_bounded_memory_and_is_told_what_it_missed`; tests/events.rs `a_stalled_client_neither_slows_the_game_nor_the_other_clients`, `a_client_behind_the_ring_is_told_how_many_events_it_lost` |

mod support;

#[path = "faults/agents.rs"]
mod agents;
#[path = "faults/arena.rs"]
mod arena;
#[path = "faults/bridge_protocol.rs"]
mod bridge_protocol;
#[path = "faults/fifo.rs"]
mod fifo;
#[path = "faults/folder_game.rs"]
mod folder_game;
#[path = "faults/links.rs"]
mod links;
#[path = "faults/mailbox_legacy.rs"]
mod mailbox_legacy;
#[path = "faults/mailbox_modern.rs"]
mod mailbox_modern;
#[path = "faults/memory.rs"]
mod memory;
#[path = "faults/own_process.rs"]
mod own_process;
#[path = "faults/raw_agent.rs"]
mod raw_agent;
#[path = "faults/sse.rs"]
mod sse;
#[path = "faults/step.rs"]
mod step;
#[path = "faults/ws_agent.rs"]
mod ws_agent;
