"""BigCommerce: the web-store connector (``client``), its partner shapes (``mapping``),
webhook envelopes (``webhooks``) and a simulator that follows the public documentation
(``sandbox``)."""
