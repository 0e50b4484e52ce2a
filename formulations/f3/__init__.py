"""F3, the multi-job capacitated flow (DESIGN.md section 3): ``model`` (variants, exit
configurations, templates: the per-request arc coefficients, computed once), ``arc`` (the arc
form on every array backend and Pyomo), and the path form: ``master`` (restricted master),
``pricing`` (layered shortest paths under duals) and ``colgen`` (column generation,
price-and-branch)."""
