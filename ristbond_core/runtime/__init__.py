"""The real-time side: drives the sans-IO engines with real sockets and the monotonic clock.

``sender.run_sender`` and ``receiver.run_receiver`` are what ``ristbond send`` and
``ristbond receive`` call; inputs, outputs, URL parsing and the generated test stream
live in their own small modules.
"""
