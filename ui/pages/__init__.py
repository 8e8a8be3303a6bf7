"""One module per page; `register()` in each adds its routes to NiceGUI."""
