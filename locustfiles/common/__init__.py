"""Small modules the loadgate locustfile is made of; `arrivals` and `plan` are pure logic."""
