-- Each lease of an asynchronous event names the node that holds it, so a node that starts
-- releases only its own leases (those of other nodes expire by their time only).
ALTER TABLE async_events ADD COLUMN lease_owner TEXT;
