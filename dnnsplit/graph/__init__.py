"""The layered-graph engine: the base graph G, the layered graph of a job, and the one
shortest-path routine with its predecessor walk (see ``shortest``)."""
