"""The `medpuls` command line: the top layer, wiring the app to commands an operator types."""
