"""Two replicas of the app behind HAProxy (deploy/haproxy/haproxy.cfg, the file compose.yaml
runs, with Debian's haproxy), a small class through it speaking Streamlit's protocol (uploads and
pictures included), then one replica killed mid-lesson. bench/bench_replicas.py does the same at
classroom sizes and prints the README's figures; this asserts on a small, fast run (about a
minute: two servers start, HAProxy is installed from Debian when missing)."""

from __future__ import annotations

from bench.bench_replicas import (
    KILL_VISIT,
    REPLICA_VISIT,
    errors_of,
    replica_of,
    run_async,
    run_class,
    running_proxy,
    running_replicas,
)

STUDENTS = 6
PACE = (0.3, 0.8)  # seconds between clicks: faster than a class, to keep the test short


def test_each_student_stays_on_one_replica_and_a_killed_replicas_students_carry_on() -> None:
    with running_replicas(2) as replicas, running_proxy(replicas) as proxy:
        calm = run_async(run_class(proxy, replicas, STUDENTS, REPLICA_VISIT, PACE))
        killed = run_async(run_class(proxy, replicas, STUDENTS, KILL_VISIT, PACE, kill_after=4.0))

    # A class through the proxy: every step of every visit done, nothing failed.
    assert errors_of(calm) == []
    assert all(len(r.steps) == len(REPLICA_VISIT) for r in calm.runs)
    # Each student stays on one replica (its cookie never changes) and the class spreads.
    homes = [replica_of(r, calm.cookie_of) for r in calm.runs]
    assert all(len(h) == 1 for h in homes), homes
    per_replica = {name: sum(h == [name] for h in homes) for name in ("local1", "local2")}
    assert all(n >= 1 for n in per_replica.values()), per_replica
    # The replicas agree: each opened two sessions (home, then the share link) per student
    # whose cookie names it, and none for the others.
    assert calm.sessions == {name: 2 * n for name, n in per_replica.items()}
    # Stickiness is what makes it work: each upload, sent straight to the other replica, is
    # refused there (the session is not in that process).
    assert [r.elsewhere_status for r in calm.runs] == [400] * STUDENTS

    # The kill: the students on the dead replica reconnect to the other one and carry on.
    victims = [r for r in killed.runs if r.recoveries]
    assert killed.killed == "local2" and 1 <= len(victims) < STUDENTS
    for run in victims:
        (recovery,) = run.recoveries
        assert recovery.back_s is not None and recovery.back_s < 10, recovery
        assert recovery.same_address and recovery.same_choices, recovery  # the link restores
        assert not recovery.upload_survived  # an upload lived in the dead process
        assert sum(s.seconds is not None for s in run.steps) == len(KILL_VISIT)
        assert replica_of(run, killed.cookie_of)[-1] == "local1"
    # Nothing else fails, for them or for the students on the surviving replica.
    assert errors_of(killed) == []
    for run in killed.runs:
        if not run.recoveries:
            assert replica_of(run, killed.cookie_of) == ["local1"]
            assert len(run.steps) == len(KILL_VISIT)
