"""Layer 0, read by every other layer: the settings (environment variables, profiles, paths, the
repository root), the process policy (threads, memory, determinism), the device and precision
policy, and progress bars. Imports nothing else of ``helpers``."""
