"""Venues: the simulated exchange and (later) live venues through ccxt, behind one interface."""
