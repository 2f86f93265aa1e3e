"""The behaviour every `EventBus` backend must have. A backend's test module subclasses
`EventBusConformance` and implements `make_bus`; two buses from `make_bus` must reach each
other (two processes sharing the backend)."""

from __future__ import annotations

import threading

from cairn.server.events import EventBus


class EventBusConformance:
    def make_bus(self) -> EventBus:
        raise NotImplementedError("subclass EventBusConformance and implement make_bus")

    def test_is_an_event_bus(self) -> None:
        assert isinstance(self.make_bus(), EventBus)

    def test_a_subscriber_gets_events_in_order(self) -> None:
        bus = self.make_bus()
        sub = bus.subscribe("job:1")
        for n in range(5):
            bus.publish("job:1", {"n": n})
        assert [sub.get(10.0) for _ in range(5)] == [{"n": n} for n in range(5)]
        assert sub.get(0.05) is None
        sub.close()

    def test_topics_are_separate(self) -> None:
        bus = self.make_bus()
        one, two = bus.subscribe("job:1"), bus.subscribe("job:2")
        bus.publish("job:2", {"for": 2})
        assert two.get(10.0) == {"for": 2}
        assert one.get(0.05) is None
        one.close()
        two.close()

    def test_every_subscriber_gets_every_event(self) -> None:
        bus = self.make_bus()
        subs = [bus.subscribe("t") for _ in range(3)]
        bus.publish("t", {"x": 1})
        assert [s.get(10.0) for s in subs] == [{"x": 1}] * 3
        for s in subs:
            s.close()

    def test_events_cross_to_another_bus_on_the_same_backend(self) -> None:
        publisher, subscriber = self.make_bus(), self.make_bus()
        sub = subscriber.subscribe("job:9")
        done = threading.Event()

        def publish() -> None:
            publisher.publish("job:9", {"status": "running"})
            publisher.publish("job:9", {"status": "done"})
            done.set()

        threading.Thread(target=publish).start()
        assert done.wait(30)
        assert [sub.get(10.0), sub.get(10.0)] == [{"status": "running"}, {"status": "done"}]
        sub.close()

    def test_a_closed_subscription_gets_nothing_more(self) -> None:
        bus = self.make_bus()
        closed, open_ = bus.subscribe("t"), bus.subscribe("t")
        closed.close()
        bus.publish("t", {"late": True})
        assert open_.get(10.0) == {"late": True}  # the topic still delivers
        assert closed.get(0.05) is None
        open_.close()
        bus.publish("t", {"later": True})  # no subscriber left: dropped, no error
        assert open_.get(0.05) is None
