-- OpenID Connect sign-in: an account signed in through a provider is known by
-- the provider's issuer and its subject (the stable, opaque user ID of the ID
-- token), never by an e-mail address. Local accounts have neither.
ALTER TABLE users ADD COLUMN oidc_issuer text;
ALTER TABLE users ADD COLUMN oidc_subject text;
ALTER TABLE users ADD CONSTRAINT users_oidc_pair CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL));
CREATE UNIQUE INDEX users_oidc ON users (oidc_issuer, oidc_subject) WHERE oidc_subject IS NOT NULL;
