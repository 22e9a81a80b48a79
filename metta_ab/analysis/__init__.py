"""From records and sources to the verdict: one score per run (or the reason it has none), then the design's
policy over those scores (fixed, sequential looks, a suite's aggregate) through the pure functions of `stats`."""
