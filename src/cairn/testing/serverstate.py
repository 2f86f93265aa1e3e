"""The behaviour every backend of the service's own state must have: API keys, ingest jobs
(with leases) and feedback. A backend's test module subclasses the classes here and provides
the fixtures they name (`make_keys`, `make_jobs`, `make_feedback`)::

    class TestMyJobs(JobStoreConformance):
        @pytest.fixture
        def make_jobs(self, tmp_path):
            backend = MyBackend(tmp_path)
            return lambda *, owner, clock, lease_s: MyJobStore(backend, owner=owner, ...)

Every store that `make_jobs` returns within one test shares one backend (as two server
processes share one database).
"""

from __future__ import annotations

from typing import Protocol

import pytest

from cairn.errors import UserError
from cairn.server.feedback import FeedbackStore
from cairn.server.jobstore import MAX_ATTEMPTS, JobStore
from cairn.server.keys import KeyStore
from cairn.testing.clock import Clock

__all__ = [
    "FeedbackStoreConformance",
    "JobStoreConformance",
    "KeyStoreConformance",
    "MakeJobs",
]


class MakeJobs(Protocol):
    def __call__(self, *, owner: str, clock: Clock, lease_s: float) -> JobStore: ...


class KeyStoreConformance:
    @pytest.fixture
    def keys(self, make_keys: KeyStore) -> KeyStore:
        return make_keys

    def test_a_created_key_verifies_until_revoked(self, keys: KeyStore) -> None:
        key, secret = keys.create(tenant="acme", scopes=["ask", "search"], name="ci")
        found = keys.verify(secret)
        assert found is not None
        assert (found.id, found.tenant, found.scopes, found.name) == (
            key.id,
            "acme",
            ("ask", "search"),
            "ci",
        )
        assert secret.startswith(key.prefix) and secret != key.prefix
        assert keys.revoke(key.id) is True
        assert keys.verify(secret) is None
        assert keys.revoke(key.id) is False  # already revoked

    def test_wrong_secrets_do_not_verify(self, keys: KeyStore) -> None:
        _, secret = keys.create(tenant="acme", scopes=["ask"])
        assert keys.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
        assert keys.verify("not-a-key") is None
        assert keys.verify("") is None

    def test_listing_keeps_revoked_keys_marked(self, keys: KeyStore) -> None:
        first, _ = keys.create(tenant="a", scopes=["ask"])
        second, _ = keys.create(tenant="b", scopes=["admin"])
        keys.revoke(first.id)
        listed = {k.id: k for k in keys.keys()}  # noqa: SIM118 (a KeyStore, not a dict)
        assert set(listed) == {first.id, second.id}
        assert not listed[first.id].active and listed[second.id].active

    def test_bad_scopes_and_tenants_are_refused(self, keys: KeyStore) -> None:
        with pytest.raises(UserError, match="choose from"):
            keys.create(tenant="acme", scopes=["everything"])
        with pytest.raises(UserError, match="at least one"):
            keys.create(tenant="acme", scopes=[])
        with pytest.raises(UserError, match="invalid tenant"):
            keys.create(tenant="../etc", scopes=["ask"])
        assert keys.keys() == []


class JobStoreConformance:
    LEASE_S = 60.0

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest.fixture
    def first(self, make_jobs: MakeJobs, clock: Clock) -> JobStore:
        return make_jobs(owner="first", clock=clock, lease_s=self.LEASE_S)

    @pytest.fixture
    def second(self, make_jobs: MakeJobs, clock: Clock) -> JobStore:
        return make_jobs(owner="second", clock=clock, lease_s=self.LEASE_S)

    def test_create_get_update(self, first: JobStore) -> None:
        job = first.create("acme", ["a.md", "b.md"])
        assert job["status"] == "queued" and job["files"] == ["a.md", "b.md"]
        first.update(job["id"], status="running", done=1, failures=[{"path": "b.md"}])
        got = first.get(job["id"])
        assert got is not None
        assert (got["status"], got["done"], got["failures"]) == ("running", 1, [{"path": "b.md"}])

    def test_a_job_counts_flagged_and_quarantined_chunks(self, first: JobStore) -> None:
        job = first.create("acme", ["a.md"])
        assert (job["flagged"], job["quarantined"]) == (0, 0)
        assert first.update(job["id"], status="running", chunks=5, flagged=2, quarantined=1)
        got = first.get(job["id"])
        assert got is not None
        assert (got["chunks"], got["flagged"], got["quarantined"]) == (5, 2, 1)

    def test_another_tenant_does_not_see_the_job(self, first: JobStore) -> None:
        job = first.create("acme", ["a.md"])
        assert first.get(job["id"], tenant="acme") is not None
        assert first.get(job["id"], tenant="other") is None
        assert first.get("job_missing") is None

    def test_a_second_process_leaves_live_jobs_alone(
        self, first: JobStore, second: JobStore, clock: Clock
    ) -> None:
        running = first.create("acme", ["a.md"])
        first.update(running["id"], status="running")
        queued = first.create("acme", ["b.md"])
        clock.advance(self.LEASE_S / 2)
        assert second.fail_abandoned() == 0
        assert _status(second, running["id"]) == "running"
        assert _status(second, queued["id"]) == "queued"

    def test_renewed_leases_outlive_their_first_term(
        self, first: JobStore, second: JobStore, clock: Clock
    ) -> None:
        job = first.create("acme", ["a.md"])
        first.update(job["id"], status="running")
        for _ in range(5):
            clock.advance(self.LEASE_S / 2)
            assert first.renew() == 1
            assert second.fail_abandoned() == 0
        assert _status(second, job["id"]) == "running"

    def test_expired_leases_are_failed_with_a_reason(
        self, first: JobStore, second: JobStore, clock: Clock
    ) -> None:
        job = first.create("acme", ["a.md"])
        first.update(job["id"], status="running")
        mine = second.create("acme", ["c.md"])
        clock.advance(self.LEASE_S + 1)
        second.renew()
        assert second.fail_abandoned() == 1
        failed = second.get(job["id"])
        assert failed is not None and failed["status"] == "failed"
        assert "upload the files again" in str(failed["error"])
        assert _status(second, mine["id"]) == "queued"

    def test_an_abandoned_job_stays_failed_when_its_owner_comes_back(
        self, first: JobStore, second: JobStore, clock: Clock
    ) -> None:
        job = first.create("acme", ["a.md"])
        assert first.update(job["id"], status="running")
        clock.advance(self.LEASE_S + 1)  # the owner stalled past its lease
        assert second.fail_abandoned() == 1
        assert not first.update(job["id"], done=1)
        assert not first.update(job["id"], status="done")
        assert _status(second, job["id"]) == "failed"

    def test_only_the_owner_updates_a_job(self, first: JobStore, second: JobStore) -> None:
        job = first.create("acme", ["a.md"])
        assert not second.update(job["id"], status="done")
        assert not first.update("job_missing", status="done")
        assert _status(first, job["id"]) == "queued"

    def test_an_owner_never_fails_its_own_jobs(self, first: JobStore, clock: Clock) -> None:
        job = first.create("acme", ["a.md"])
        clock.advance(10 * self.LEASE_S)  # a stalled heartbeat: the job still runs here
        assert first.fail_abandoned() == 0
        assert _status(first, job["id"]) == "queued"

    def test_finished_jobs_are_never_failed(
        self, first: JobStore, second: JobStore, clock: Clock
    ) -> None:
        job = first.create("acme", ["a.md"])
        first.update(job["id"], status="done")
        clock.advance(10 * self.LEASE_S)
        assert second.fail_abandoned() == 0
        assert first.renew() == 0
        assert _status(second, job["id"]) == "done"

    # taking jobs over ---------------------------------------------------------------------

    def test_a_dead_owners_job_with_its_files_is_taken_over(
        self, first: JobStore, second: JobStore, clock: Clock
    ) -> None:
        job = first.create("acme", ["a.md", "b.md"], inputs={"a.md": b"# A", "b.md": b"\x00b"})
        first.update(job["id"], status="running", done=1)
        assert first.inputs(job["id"]) == {"a.md": b"# A", "b.md": b"\x00b"}
        clock.advance(self.LEASE_S / 2)
        assert second.claim() is None  # alive: never taken
        clock.advance(self.LEASE_S)
        assert second.fail_abandoned() == 0  # it can be taken over: not failed
        claimed = second.claim()
        assert claimed is not None
        assert (claimed["id"], claimed["tenant"], claimed["files"]) == (
            job["id"],
            "acme",
            ["a.md", "b.md"],
        )
        assert second.claim() is None
        assert second.inputs(job["id"]) == {"a.md": b"# A", "b.md": b"\x00b"}
        assert not first.update(job["id"], done=2)  # the old owner lost it
        assert second.update(job["id"], status="running", done=2)
        assert second.renew() == 1
        assert second.update(job["id"], status="done")
        assert second.inputs(job["id"]) == {}  # an ended job keeps no files
        assert _status(first, job["id"]) == "done"

    def test_live_own_and_finished_jobs_are_never_claimed(
        self, first: JobStore, second: JobStore, clock: Clock
    ) -> None:
        live = first.create("acme", ["a.md"], inputs={"a.md": b"a"})
        ended = first.create("acme", ["b.md"], inputs={"b.md": b"b"})
        first.update(ended["id"], status="failed", error="bad")
        no_files = first.create("acme", ["c.md"])
        assert second.claim() is None
        clock.advance(self.LEASE_S + 1)
        assert first.claim() is None  # its own jobs are alive while it runs
        claimed = second.claim()
        assert claimed is not None and claimed["id"] == live["id"]
        assert second.claim() is None  # the ended job, and the one without files
        assert second.fail_abandoned() == 1
        assert _status(second, no_files["id"]) == "failed"

    def test_a_job_is_passed_on_a_bounded_number_of_times(
        self, make_jobs: MakeJobs, first: JobStore, clock: Clock
    ) -> None:
        job = first.create("acme", ["a.md"], inputs={"a.md": b"a"})
        taken = 1
        for n in range(10):
            clock.advance(self.LEASE_S + 1)
            store = make_jobs(owner=f"replica{n}", clock=clock, lease_s=self.LEASE_S)
            if store.claim() is None:
                assert store.fail_abandoned() == 1
                break
            taken += 1
        assert taken == MAX_ATTEMPTS
        failed = first.get(job["id"])
        assert failed is not None and failed["status"] == "failed"
        assert first.inputs(job["id"]) == {}

    def test_a_released_job_is_claimed_at_once(
        self, first: JobStore, second: JobStore, clock: Clock
    ) -> None:
        job = first.create("acme", ["a.md"], inputs={"a.md": b"a"})
        other = second.create("acme", ["b.md"])
        assert not second.release(job["id"]) and not first.release("job_missing")
        assert first.release(job["id"])
        assert first.renew() == 0 and not first.update(job["id"], status="running")
        claimed = second.claim()  # no lease to wait for
        assert claimed is not None and claimed["id"] == job["id"]
        assert second.renew() == 2 and _status(second, other["id"]) == "queued"


def _status(store: JobStore, job_id: str) -> str:
    job = store.get(job_id)
    assert job is not None
    return str(job["status"])


class FeedbackStoreConformance:
    @pytest.fixture
    def feedback(self, make_feedback: FeedbackStore) -> FeedbackStore:
        return make_feedback

    def test_round_trip(self, feedback: FeedbackStore) -> None:
        item, created = feedback.add(
            trace_id="t1", tenant="acme", user="ann", rating="up", comment="clear"
        )
        assert created
        (listed,) = feedback.recent(tenant="acme")
        assert listed["id"] == item["id"]
        assert (listed["trace_id"], listed["rating"], listed["comment"], listed["user"]) == (
            "t1",
            "up",
            "clear",
            "ann",
        )

    def test_one_rating_per_trace_and_user_keeping_the_comment(
        self, feedback: FeedbackStore
    ) -> None:
        first, _ = feedback.add(trace_id="t1", tenant="acme", user=None, rating="up", comment="ok")
        again, created = feedback.add(
            trace_id="t1", tenant="acme", user=None, rating="down", comment=None
        )
        assert not created and again["id"] == first["id"]
        (listed,) = feedback.recent(tenant="acme")
        assert (listed["rating"], listed["comment"]) == ("down", "ok")
        _, other_user = feedback.add(
            trace_id="t1", tenant="acme", user="bob", rating="up", comment=None
        )
        assert other_user and len(feedback.recent(tenant="acme")) == 2

    def test_tenants_see_only_their_own(self, feedback: FeedbackStore) -> None:
        feedback.add(trace_id="t1", tenant="a", user=None, rating="up", comment=None)
        feedback.add(trace_id="t2", tenant="b", user=None, rating="down", comment=None)
        assert [f["trace_id"] for f in feedback.recent(tenant="a")] == ["t1"]
        assert {f["trace_id"] for f in feedback.recent(tenant=None)} == {"t1", "t2"}
        assert len(feedback.recent(tenant=None, limit=1)) == 1
