"""Building the pruned net: training data, structured pruning, distillation."""
