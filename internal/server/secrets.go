package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// sealedVersion starts a sealed secret and names its scheme: AES-256-GCM
// under the operator's key, nonce first, in base64.
const sealedVersion = "v1:"

// storedSecret is a write-only secret as the store keeps it: sealed when
// tenancyd has a key, as sent otherwise. Two fields rather than a marker
// inside one value, so that every secret a user sends round-trips as sent,
// one that looks like a sealed secret included.
type storedSecret struct {
	Plain  *string `json:"secret,omitempty"`
	Sealed *string `json:"sealed_secret,omitempty"`
}

// set reports whether a secret is stored.
func (s storedSecret) set() bool { return s.Plain != nil || s.Sealed != nil }

// secretBox keeps write-only secrets (integration secrets) encrypted at
// rest, so that neither a database dump nor a tenant's final backup holds
// them in clear. Without a key it stores them as they are; tenancyd warns
// about that at start.
type secretBox struct {
	aead cipher.AEAD // nil: no key
}

// ParseSecretKey reads the encryption key for secrets at rest: 32 bytes,
// base64-encoded (for example `openssl rand -base64 32`).
func ParseSecretKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != 32 {
		return nil, errors.New("the secret key must be 32 random bytes, base64-encoded (for example from `openssl rand -base64 32`)")
	}
	return key, nil
}

func newSecretBox(key []byte) (*secretBox, error) {
	if key == nil {
		return &secretBox{}, nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &secretBox{aead: aead}, nil
}

// seal prepares a secret for the store: sealed with a key, as it is
// without; nil stores none.
func (b *secretBox) seal(plain *string) (storedSecret, error) {
	if plain == nil {
		return storedSecret{}, nil
	}
	if b.aead == nil {
		return storedSecret{Plain: plain}, nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return storedSecret{}, err
	}
	sealed := sealedVersion + base64.StdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(*plain), nil))
	return storedSecret{Sealed: &sealed}, nil
}

// open returns a stored secret as it was sent. A secret stored before a key
// was configured is read as it is, and sealed on its next write.
func (b *secretBox) open(stored storedSecret) (*string, error) {
	if stored.Sealed == nil {
		return stored.Plain, nil
	}
	if b.aead == nil {
		return nil, errors.New("a stored secret is encrypted, but tenancyd runs without the secret key; start it with TENANCYD_SECRET_KEY")
	}
	data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(*stored.Sealed, sealedVersion))
	if err != nil || !strings.HasPrefix(*stored.Sealed, sealedVersion) || len(data) < b.aead.NonceSize() {
		return nil, errors.New("a stored secret is not one this server sealed")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, data[:n], data[n:], nil)
	if err != nil {
		return nil, errors.New("a stored secret cannot be decrypted with this secret key")
	}
	s := string(plain)
	return &s, nil
}

// OpenSecret returns the write-only secret of an integration as tenancyd
// stores it (data is the stored object), decrypted with the key it runs
// with; for operators' tools and tests that read the database directly.
func OpenSecret(key []byte, data []byte) (*string, error) {
	b, err := newSecretBox(key)
	if err != nil {
		return nil, err
	}
	var stored storedSecret
	if err := json.Unmarshal(data, &stored); err != nil {
		return nil, fmt.Errorf("stored integration: %w", err)
	}
	return b.open(stored)
}
