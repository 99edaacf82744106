package cluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the cluster's certificate authority and the certificates signed by
// it: the API server's serving certificate, the admin client certificate of
// the kubeconfig, and the service-account signing key. Everything is kept
// under dir so that a restarted sandbox keeps its kubeconfig valid.
type pki struct {
	dir string

	caCertPEM     []byte
	adminCertPEM  []byte
	adminKeyPEM   []byte
	servingCert   string // file path
	servingKey    string // file path
	caCertFile    string
	saKeyFile     string
	caCert        *x509.Certificate
	caKey         crypto.Signer
	loadedFromDir bool
}

const (
	caCertName      = "ca.crt"
	caKeyName       = "ca.key"
	servingCertName = "apiserver.crt"
	servingKeyName  = "apiserver.key"
	adminCertName   = "admin.crt"
	adminKeyName    = "admin.key"
	saKeyName       = "sa.key"
)

// loadOrCreatePKI reads the PKI from dir, or creates it there.
func loadOrCreatePKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{
		dir:         dir,
		servingCert: filepath.Join(dir, servingCertName),
		servingKey:  filepath.Join(dir, servingKeyName),
		caCertFile:  filepath.Join(dir, caCertName),
		saKeyFile:   filepath.Join(dir, saKeyName),
	}
	if err := p.load(); err == nil {
		p.loadedFromDir = true
		return p, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading certificates in %s: %w", dir, err)
	}
	if err := p.create(); err != nil {
		return nil, fmt.Errorf("creating certificates in %s: %w", dir, err)
	}
	return p, nil
}

func (p *pki) load() error {
	names := []string{caCertName, caKeyName, servingCertName, servingKeyName, adminCertName, adminKeyName, saKeyName}
	data := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(p.dir, n))
		if err != nil {
			return err
		}
		data[n] = b
	}
	p.caCertPEM = data[caCertName]
	p.adminCertPEM = data[adminCertName]
	p.adminKeyPEM = data[adminKeyName]
	return nil
}

func (p *pki) create() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ramp-sandbox-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	p.caCert, err = x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	p.caKey = caKey
	p.caCertPEM = pemBlock("CERTIFICATE", caDER)

	servingCert, servingKey, err := p.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return err
	}
	p.adminCertPEM, p.adminKeyPEM, err = p.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "ramp-admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	saKeyDER, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return err
	}
	caKeyDER, err := x509.MarshalECPrivateKey(caKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		caCertName:      p.caCertPEM,
		caKeyName:       pemBlock("EC PRIVATE KEY", caKeyDER),
		servingCertName: append(servingCert, p.caCertPEM...),
		servingKeyName:  servingKey,
		adminCertName:   p.adminCertPEM,
		adminKeyName:    p.adminKeyPEM,
		saKeyName:       pemBlock("EC PRIVATE KEY", saKeyDER),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(p.dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// sign issues a certificate for tmpl, signed by the CA, with a new key.
func (p *pki) sign(tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = p.caCert.NotBefore
	tmpl.NotAfter = p.caCert.NotAfter
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, key.Public(), p.caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE", der), pemBlock("EC PRIVATE KEY", keyDER), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n.Add(n, big.NewInt(1))
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
