"""Layer 5: code for a single notebook's study (notebook 06's depth study and hyperparameter search)."""
