package lifeboat

import "time"

// Token is an API token as lifeboat shows it: never the secret, which is
// printed once at creation and stored only as its SHA-256.
type Token struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Hint is the token's public part ("lbt_k3x9…"), to tell tokens apart.
	Hint       string     `json:"hint"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}
