"""The drill's figures (DrillReport), as `voxflow drill` prints and writes them.

What each figure means and how it is counted: voxflow_local.drill.run and
docs/failover.md ("The local drill").
"""

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from voxflow_local.drill.cpu_share import CpuAfterKill
from voxflow_local.drill.floor import SynthesisFloor

DUPLICATES_METHOD = (
    "chunk objects under chunks/ that each region's service wrote itself (the replicator's "
    "copies carry voxflow-replica-of and are not counted), mapped to requests through the "
    "jobs' chunk_keys"
)


@dataclass
class FailbackResult:
    ok: bool = False
    recovered_to_healthy_s: float | None = None
    requests: int = 0
    completed_in_primary: int = 0
    regions: list[str | None] = field(default_factory=list)


@dataclass
class DrillReport:
    requests: int = 0
    accepted: int = 0
    accepted_by_region: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    terminal: int = 0
    completed: int = 0
    failed: int = 0
    answered_by_region: dict[str, int] = field(default_factory=dict)
    rpo: int = 0  # accepted requests with no terminal event
    rto_s: float | None = None  # kill → first request completed by the secondary
    # Seconds after the kill of the secondary's first completions, for requests
    # published after the kill ("new") and before it ("interrupted"): what RTO measured.
    secondary_first_completions_s: dict[str, list[float]] = field(default_factory=dict)
    # Publish → terminal event of requests published after the kill: what users of the
    # service met once it had failed over (p50, p99, max; seconds).
    after_kill_latency_s: dict[str, float] = field(default_factory=dict)
    # The same for the requests in flight at the kill (interrupted): publish → terminal,
    # and kill → terminal (what their wait after the loss was).
    interrupted_latency_s: dict[str, float] = field(default_factory=dict)
    interrupted_after_kill_s: dict[str, float] = field(default_factory=dict)
    # The synthesis the requests published after the kill needed, and the p50/p99 no
    # scheduling on this machine's cores could beat (voxflow_local.drill.floor).
    synthesis_floor: SynthesisFloor = field(default_factory=SynthesisFloor)
    # Where the cores went from the kill to the last new request's answer, the share of
    # moto and the drill's own process (not the service's on AWS) apart
    # (voxflow_local.drill.cpu_share).
    cpu_after_kill: CpuAfterKill = field(default_factory=CpuAfterKill)
    all_terminal_after_kill_s: float | None = None
    all_terminal_after_start_s: float | None = None
    finished_only_after_failback: int = 0  # stranded in the frozen primary
    multiple_terminal: int = 0  # requests with more than one terminal event
    # Accepted but without a terminal event when the primary was lost. Only these can be
    # answered twice: replication is asynchronous, so the secondary may take over a job
    # the primary finished within the replication lag before the loss.
    in_flight_at_kill: int = 0
    in_flight_at_kill_ids: list[str] = field(default_factory=list)
    # Answered by the primary before the kill, but the finished job had not replicated
    # to the secondary yet (asynchronous replication): the secondary may take it over,
    # synthesize its chunks again and answer it too. Counted apart from normal operation.
    unreplicated_at_kill_ids: list[str] = field(default_factory=list)
    duplicated_chunks_unreplicated: int = 0
    # For each request without a terminal event: where it was published and its job
    # record in each region (status, owner, chunks done), to tell where it stopped.
    missing: dict[str, dict[str, Any]] = field(default_factory=dict)
    # On AWS SweeperFunction runs every 5 minutes; locally no schedule fires, so the
    # drill sweeps both regions itself if requests are still without an answer after
    # the failback. What it did, and which requests only it brought to an end:
    sweeps: list[dict[str, object]] = field(default_factory=list)
    finished_by_sweeper: list[str] = field(default_factory=list)
    # request id → regions whose terminal events came, in order of arrival
    multiple_terminal_regions: dict[str, list[str]] = field(default_factory=dict)
    duplicated_chunks_normal: int = 0  # requests finished before the kill
    duplicated_normal_requests: dict[str, list[str]] = field(default_factory=dict)  # id → chunks
    interrupted_requests: int = 0
    resynthesized_chunks: int = 0  # by the secondary, for requests interrupted by the kill
    # Their chunks not replicated to the secondary at the kill, for those the secondary
    # answered (the stranded ones are the primary's after the failback).
    resynthesized_minimum: int = 0
    # Deliveries the replicator still held at the kill, by destination region: what
    # asynchronous replication had not carried yet (events, items and objects).
    replication_backlog_at_kill: dict[str, dict[str, int]] = field(default_factory=dict)
    duplicates_method: str = DUPLICATES_METHOD
    killed_at_request: int = 0
    failback: FailbackResult = field(default_factory=FailbackResult)
    wall_s: float = 0.0
    # The replicator still had deliveries waiting 30 s after the failback, when the
    # figures were counted (late duplicates may then be missing from them).
    replication_behind_at_count: bool = False
    # With the edge proxy (TwoRegionStack(edge=True)): audio URLs the primary handed out
    # before the kill, how many of them played (the announced bytes) through the edge
    # while the primary was down, and the requests whose URL did not. None: no edge.
    edge_urls_before_kill: int | None = None
    edge_urls_replicated_at_kill: list[str] = field(default_factory=list)
    edge_urls_playing_after_kill: int | None = None
    edge_urls_not_playing: list[str] = field(default_factory=list)
    # What `voxflow drill --plot` draws (voxflow_local.plots), in seconds after the
    # drill started: "published" and "answered" as [seconds, region] pairs (the bus that
    # took each request; the region of its first terminal event), and the "marks".
    timeline: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def summary(self) -> str:
        rto = "n/a" if self.rto_s is None else f"{self.rto_s:.1f} s"
        after = self.all_terminal_after_kill_s
        return "\n".join(
            [
                f"accepted {self.accepted}/{self.requests} {self.accepted_by_region}, "
                f"terminal {self.terminal} (answered by {self.answered_by_region})",
                f"RPO {self.rpo} requests without a terminal event; RTO {rto}",
                f"replication backlog at the kill: {self.replication_backlog_at_kill}",
                f"requests published after the kill, publish to terminal event: "
                f"{self.after_kill_latency_s}",
                f"requests in flight at the kill, publish to terminal event: "
                f"{self.interrupted_latency_s}, kill to terminal event: "
                f"{self.interrupted_after_kill_s}",
                self.synthesis_floor.line(),
                self.cpu_after_kill.line(),
                f"every terminal event {after if after is None else round(after, 1)} s after "
                f"the kill; {self.finished_only_after_failback} finished only after failback, "
                f"{len(self.finished_by_sweeper)} only by the sweeper",
                f"more than one terminal event: {self.multiple_terminal} (of "
                f"{self.in_flight_at_kill} in flight at the kill and "
                f"{len(self.unreplicated_at_kill_ids)} answered but not replicated); chunks "
                f"synthesized in both regions in normal operation: "
                f"{self.duplicated_chunks_normal}, for answers not replicated at the kill: "
                f"{self.duplicated_chunks_unreplicated}",
                f"interrupted requests {self.interrupted_requests}: chunks synthesized again "
                f"{self.resynthesized_chunks} (minimum {self.resynthesized_minimum})",
                f"failback: {'ok' if self.failback.ok else 'FAILED'} "
                f"({self.failback.completed_in_primary}/{self.failback.requests} in the primary)",
                *(
                    [
                        f"URLs handed out by the primary before the kill that played through "
                        f"the edge after it: {self.edge_urls_playing_after_kill}/"
                        f"{self.edge_urls_before_kill} ({len(self.edge_urls_replicated_at_kill)} "
                        f"with their audio in the secondary at the kill)"
                    ]
                    if self.edge_urls_before_kill is not None
                    else []
                ),
            ]
        )
