"""What is happening now: per-bot live views kept by the agent links, and the in-process
pub/sub that tells the console (and anyone else subscribed) about every change."""
