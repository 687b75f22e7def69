package control

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// checkPeer refuses a unix connection from another OS user (SO_PEERCRED),
// a second check behind the socket's 0600 mode.
func checkPeer(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	if int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("%w: connection from uid %d", ErrForeignUser, cred.Uid)
	}
	return nil
}
