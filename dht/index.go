package dht

import (
	"fmt"
	"slices"
	"time"

	"github.com/clone2clone/c2c/internal/wirebytes"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// indexDomain separates device-index signatures from other user signatures.
const indexDomain = "c2c/dir/device-index/v1"

// MaxDevices caps the devices in one index (and so its size).
const MaxDevices = 32

// DeviceIndex is a user's signed list of device names. Devices are kept
// sorted and unique so the encoding is canonical.
type DeviceIndex struct {
	User    peer.ID
	Signer  peer.ID // set by SignDeviceIndex, must equal User
	Devices []string
	Seq     uint64
	EOL     time.Time
	Sig     []byte
}

// SignDeviceIndex sets User and Signer from userKey, sorts Devices and
// signs. Duplicate device names are an error.
func SignDeviceIndex(userKey crypto.PrivKey, d DeviceIndex) (*DeviceIndex, error) {
	id, err := peer.IDFromPrivateKey(userKey)
	if err != nil {
		return nil, err
	}
	d.User = id
	return signIndexAs(userKey, d)
}

func signIndexAs(key crypto.PrivKey, d DeviceIndex) (*DeviceIndex, error) {
	signer, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	d.Signer = signer
	d.EOL = d.EOL.UTC()
	d.Devices = slices.Clone(d.Devices)
	slices.Sort(d.Devices)
	body, err := d.signedBytes()
	if err != nil {
		return nil, err
	}
	d.Sig, err = key.Sign(body)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func (d *DeviceIndex) checkFields() error {
	if _, err := userPublicKey(d.User); err != nil {
		return fmt.Errorf("user: %w", err)
	}
	if _, err := userPublicKey(d.Signer); err != nil {
		return fmt.Errorf("signer: %w", err)
	}
	if len(d.Devices) > MaxDevices {
		return fmt.Errorf("%w: %d devices, max %d", ErrMalformed, len(d.Devices), MaxDevices)
	}
	for i, name := range d.Devices {
		if err := checkDeviceName(name); err != nil {
			return err
		}
		if i > 0 && d.Devices[i-1] >= name {
			return fmt.Errorf("%w: devices not sorted and unique at %q", ErrMalformed, name)
		}
	}
	return checkEOL(d.EOL)
}

func (d *DeviceIndex) signedBytes() ([]byte, error) {
	if err := d.checkFields(); err != nil {
		return nil, err
	}
	var w wirebytes.Writer
	w.String16(indexDomain)
	w.Bytes16([]byte(d.User))
	w.Bytes16([]byte(d.Signer))
	w.U16(uint16(len(d.Devices)))
	for _, name := range d.Devices {
		w.String16(name)
	}
	w.U64(d.Seq)
	w.U64(uint64(d.EOL.UnixNano()))
	return w.Buf(), nil
}

// Marshal returns the canonical wire bytes (the DHT value).
func (d *DeviceIndex) Marshal() ([]byte, error) {
	body, err := d.signedBytes()
	if err != nil {
		return nil, err
	}
	w := wirebytes.NewWriter(body)
	w.Bytes16(d.Sig)
	if len(w.Buf()) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(w.Buf()))
	}
	return w.Buf(), nil
}

// UnmarshalDeviceIndex decodes and checks the form of an index (not its
// signature or freshness: see Verify).
func UnmarshalDeviceIndex(b []byte) (*DeviceIndex, error) {
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	r := newReader(b)
	expect(r, indexDomain)
	d := &DeviceIndex{
		User:   peer.ID(field(r)),
		Signer: peer.ID(field(r)),
	}
	n := int(r.U16())
	if r.Err() == nil && n > MaxDevices {
		return nil, fmt.Errorf("%w: %d devices, max %d", ErrMalformed, n, MaxDevices)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		d.Devices = append(d.Devices, string(field(r)))
	}
	d.Seq = r.U64()
	d.EOL = time.Unix(0, int64(r.U64())).UTC()
	d.Sig = field(r)
	if err := r.End(); err != nil {
		return nil, err
	}
	if err := d.checkFields(); err != nil {
		return nil, err
	}
	return d, nil
}

// Key is the DHT key of this index.
func (d *DeviceIndex) Key() string { return IndexKey(d.User) }

// Verify checks the signer, the signature and the end of life at now.
func (d *DeviceIndex) Verify(now time.Time) error {
	body, err := d.signedBytes()
	if err != nil {
		return err
	}
	return verifySig(d.User, d.Signer, body, d.Sig, d.EOL, now)
}
