"""Version control: checkpoints of the working tree that never touch the user's git state."""
