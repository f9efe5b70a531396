"""What the blueprint's tools share with each other and nothing else: reading its own templates.
The dev stack (local/), the operations (scripts/) and the template checks (checks/) all depend on
this package; it depends on none of them."""
