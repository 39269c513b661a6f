package cmd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmtcli "github.com/cometbft/cometbft/libs/cli"
	"github.com/libp2p/go-libp2p/core/crypto"

	svrcmd "github.com/cosmos/cosmos-sdk/server/cmd"

	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/crypto/hd"
	"github.com/cosmos/cosmos-sdk/crypto/keys/secp256k1"
	sdk "github.com/cosmos/cosmos-sdk/types"
)

// testMnemonic is a throwaway key's (BIP-39 test vector words).
const testMnemonic = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon " +
	"abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art"

// runPouwd runs the root command as main does (svrcmd.Execute), with a
// deadline, stdin and both outputs captured.
func runPouwd(t *testing.T, home, stdin string, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	// The root command reads prompts (mnemonic, passphrases) from os.Stdin.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { w.WriteString(stdin); w.Close() }()
	defer r.Close()
	was := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = was }()
	root := NewRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(r)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	root.PersistentFlags().String(flags.FlagLogLevel, "info", "")
	root.PersistentFlags().String(flags.FlagLogFormat, "plain", "")
	root.PersistentFlags().Bool(flags.FlagLogNoColor, true, "")
	root.PersistentFlags().String(flags.FlagVerboseLogLevel, "debug", "")
	err = cmtcli.PrepareBaseCmd(root, "POUWD", home).ExecuteContext(svrcmd.CreateExecuteContext(ctx))
	return out.String(), err
}

// secretForms are the ways key material could show up in text.
func secretForms(b []byte) []string {
	return []string{hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)), base64.StdEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b), fmt.Sprint(b)}
}

// TestDaemonsLogNoKeyMaterial: the miner, the verifier and the storage
// peer, started against an unreachable node (so they run their startup
// and fail on the chain), write neither the key's mnemonic (nor any three
// consecutive words of it), its private key, the keyring passphrase, nor
// the libp2p identity's private key, in any common encoding. Their
// logs and errors name keys by name and address only.
func TestDaemonsLogNoKeyMaterial(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemons")
	}
	for _, backend := range []string{"test", "file"} {
		t.Run(backend, func(t *testing.T) {
			home := t.TempDir()
			const pass = "correct-horse-battery-staple-9"
			// keys add --recover reads the mnemonic, then (file backend)
			// the new passphrase twice.
			stdin := testMnemonic + "\n"
			if backend == "file" {
				stdin += pass + "\n" + pass + "\n"
			}
			out, err := runPouwd(t, home, stdin, time.Minute, "keys", "add", "worker", "--recover", "--keyring-backend", backend, "--home", home)
			if err != nil {
				t.Fatalf("keys add: %v\n%s", err, out)
			}
			priv, err := hd.Secp256k1.Derive()(testMnemonic, "", hd.CreateHDPath(sdk.CoinType, 0, 0).String())
			if err != nil {
				t.Fatal(err)
			}
			secrets := map[string]string{"passphrase": pass}
			for _, s := range secretForms(priv) {
				secrets["private key ("+s[:4]+"...)"] = s
			}
			words := strings.Fields(testMnemonic)
			for i := 0; i+3 <= len(words); i++ {
				if w := strings.Join(words[i:i+3], " "); w != "abandon abandon abandon" { // 23 words are one word
					secrets["mnemonic words "+w] = w
				}
			}
			secrets["mnemonic (first 12 words)"] = strings.Join(words[:12], " ")
			node := []string{"--from", "worker", "--keyring-backend", backend, "--home", home, "--chain-id", "pouw-secrets",
				"--node", "tcp://127.0.0.1:1", "--device", "cpu", "--threads", "1"}
			var logs strings.Builder
			for _, args := range [][]string{append([]string{"miner", "start"}, node...), append([]string{"verifier", "start"}, node...),
				{"data", "serve", "--from", "worker", "--keyring-backend", backend, "--home", home, "--chain-id", "pouw-secrets",
					"--node", "tcp://127.0.0.1:1", "--p2p.listen", "/ip4/127.0.0.1/tcp/0"}} {
				in := ""
				if backend == "file" {
					in = strings.Repeat(pass+"\n", 4)
				}
				out, err := runPouwd(t, home, in, 30*time.Second, args...)
				t.Logf("pouwd %s: %v\n%s", strings.Join(args[:2], " "), err, out)
				fmt.Fprintf(&logs, "%s\n%v\n", out, err)
			}
			// The libp2p identity the daemons created.
			raw, err := os.ReadFile(filepath.Join(home, "p2p", "identity.key"))
			if err == nil {
				k, err := crypto.UnmarshalPrivateKey(raw)
				if err != nil {
					t.Fatal(err)
				}
				kr, _ := k.Raw()
				for _, s := range append(secretForms(kr), secretForms(raw)...) {
					secrets["libp2p identity key ("+s[:4]+"...)"] = s
				}
			} else {
				t.Logf("no libp2p identity created: %v", err)
			}
			text := logs.String()
			for what, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("the daemons' output holds the %s", what)
				}
			}
			// The key checked for is the one the daemons used: they name its address.
			if addr := sdk.AccAddress((&secp256k1.PrivKey{Key: priv}).PubKey().Address()).String(); !strings.Contains(text, addr) {
				t.Fatalf("the daemons' output does not name %s, the address of the key checked for", addr)
			}
		})
	}
}
