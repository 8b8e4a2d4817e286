"""Style inference: generator (nn.Modules), weights (safetensors, teacher import), styles, engine."""
