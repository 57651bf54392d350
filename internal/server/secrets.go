package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// sealedPrefix marks a secret stored encrypted, with the version of the
// scheme: AES-256-GCM under the operator's key, nonce first.
const sealedPrefix = "sealed:v1:"

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

// seal encrypts a secret for the store; nil stays nil.
func (b *secretBox) seal(plain *string) (*string, error) {
	if plain == nil || b.aead == nil {
		return plain, nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sealed := sealedPrefix + base64.StdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(*plain), nil))
	return &sealed, nil
}

// open decrypts a stored secret. A secret stored before a key was configured
// is read as it is, and sealed again on its next write.
func (b *secretBox) open(stored *string) (*string, error) {
	if stored == nil || !strings.HasPrefix(*stored, sealedPrefix) {
		return stored, nil
	}
	if b.aead == nil {
		return nil, errors.New("a stored secret is encrypted, but tenancyd runs without the secret key; start it with TENANCYD_SECRET_KEY")
	}
	data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(*stored, sealedPrefix))
	if err != nil || len(data) < b.aead.NonceSize() {
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

// OpenSecret decrypts a secret as tenancyd stores it, with the key it runs
// with; for operators' tools and tests that read the database directly.
func OpenSecret(key []byte, stored *string) (*string, error) {
	b, err := newSecretBox(key)
	if err != nil {
		return nil, err
	}
	return b.open(stored)
}
