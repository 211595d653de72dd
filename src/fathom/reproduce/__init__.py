"""One module per paper: the experiment, the claim checks computed from its data, its report."""
