package dev.weir.peers;

import java.time.Duration;

/**
 * The features every engine computes, the same as the Weir job that scripts/bench-peers.sh
 * submits: tumbling 1m count and sum of amount, sliding 1h/1m sum of amount, session (gap 30s)
 * count. A run computes all of them (--features all), or one sum only (tumbling: the 1m sum;
 * sliding: the 1h/1m sum), which is how the script measures the sliding ÷ tumbling cost like for
 * like.
 */
final class Features {
  static final Duration TUMBLING = Duration.ofMinutes(1);
  static final Duration SLIDING_SIZE = Duration.ofHours(1);
  static final Duration SLIDING_SLIDE = Duration.ofMinutes(1);
  static final Duration SESSION_GAP = Duration.ofSeconds(30);

  /** Tumbling 1m: the count too, or the sum only. */
  final boolean tumbling;
  final boolean tumblingCount;
  final boolean sliding;
  final boolean session;

  Features(String which) {
    switch (which) {
      case "all" -> { tumbling = true; tumblingCount = true; sliding = true; session = true; }
      case "tumbling" -> { tumbling = true; tumblingCount = false; sliding = false; session = false; }
      case "sliding" -> { tumbling = false; tumblingCount = false; sliding = true; session = false; }
      default -> throw new IllegalArgumentException("--features is all, tumbling or sliding, not " + which);
    }
  }
}
