"""Test support that ships with cairn: conformance suites every backend of a protocol runs,
and the test doubles (scripted models, fake tracers, small corpora) that tests and demos use.

A backend outside this repository runs a suite by subclassing its class, for example::

    from cairn.testing.store import StoreConformance

    class TestMyStore(StoreConformance):
        def make_store(self, tmp_path): ...

Each module is imported on demand; importing `cairn.testing` itself pulls in nothing heavy.
"""
