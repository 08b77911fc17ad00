package dev.weir.peers;

/**
 * What scripts/bench-peers.sh reads from an engine's standard output, one line each, with the
 * wall time in ms:
 *
 * <pre>
 *   peers: first-event MS          the first event this process (or task attempt) consumed
 *   peers: events N MS             every 1/50 of EXPECTED events, and at EXPECTED
 *   peers: done MS N               it consumed its EXPECTED-th event
 *   peers: first-row MS            the first row this process (or task attempt) emitted
 * </pre>
 *
 * One instance per task; not thread-safe (each engine calls it from one task thread).
 */
final class Progress {
  private final long expected;
  private final long step;
  private long events;
  private boolean firstRow = true;

  Progress(long expected) {
    this.expected = expected;
    this.step = expected > 0 ? Math.max(1, expected / 50) : 0;
  }

  void event() {
    events++;
    if (events == 1) line("first-event " + System.currentTimeMillis());
    if (step > 0 && (events % step == 0 || events == expected)) line("events " + events + " " + System.currentTimeMillis());
    if (events == expected) line("done " + System.currentTimeMillis() + " " + events);
  }

  void row() {
    if (firstRow) {
      firstRow = false;
      line("first-row " + System.currentTimeMillis());
    }
  }

  static void line(String text) {
    System.out.println("peers: " + text);
    System.out.flush();
  }
}
