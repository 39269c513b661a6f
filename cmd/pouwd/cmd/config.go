package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/config"
)

// clientConfigKeys are the keys of client.toml.
var clientConfigKeys = []string{"chain-id", "keyring-backend", "keyring-default-keyname", "output", "node", "broadcast-mode"}

// ConfigCmd returns `pouwd config`: show, get and set the client
// configuration (<home>/config/client.toml), which supplies defaults for
// --chain-id, --keyring-backend, --node, --output and --broadcast-mode.
func ConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show, get or set the client configuration (client.toml)",
		Long: "Reads and writes <home>/config/client.toml. Keys: " + strings.Join(clientConfigKeys, ", ") + ".\n" +
			"  pouwd config                  show every key\n" +
			"  pouwd config get KEY          print one value\n" +
			"  pouwd config set KEY VALUE    change one value",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := clientConfigPath(cmd)
			if err != nil {
				return err
			}
			values, err := readClientConfig(path)
			if err != nil {
				return err
			}
			for _, k := range clientConfigKeys {
				cmd.Printf("%s = %q\n", k, values[k])
			}
			return nil
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "get KEY",
		Short: "Print one client configuration value",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkClientConfigKey(args[0]); err != nil {
				return err
			}
			path, err := clientConfigPath(cmd)
			if err != nil {
				return err
			}
			values, err := readClientConfig(path)
			if err != nil {
				return err
			}
			cmd.Println(values[args[0]])
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Change one client configuration value",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkClientConfigKey(args[0]); err != nil {
				return err
			}
			if strings.ContainsAny(args[1], "\"\n\\") {
				return fmt.Errorf("value %q for %s: quotes, backslashes and newlines are not allowed", args[1], args[0])
			}
			path, err := clientConfigPath(cmd)
			if err != nil {
				return err
			}
			return setClientConfig(path, args[0], args[1])
		},
	})
	return cmd
}

func checkClientConfigKey(key string) error {
	for _, k := range clientConfigKeys {
		if k == key {
			return nil
		}
	}
	return fmt.Errorf("unknown client config key %q: expected one of %s", key, strings.Join(clientConfigKeys, ", "))
}

// clientConfigPath returns client.toml's path, creating the file with
// defaults when it does not exist yet.
func clientConfigPath(cmd *cobra.Command) (string, error) {
	clientCtx := client.GetClientContextFromCmd(cmd)
	if clientCtx.HomeDir == "" {
		return "", errors.New("home directory is not set")
	}
	path := filepath.Join(clientCtx.HomeDir, "config", "client.toml")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if _, err := config.ReadFromClientConfig(clientCtx); err != nil {
			return "", fmt.Errorf("create %s: %w", path, err)
		}
	}
	return path, nil
}

var configLine = regexp.MustCompile(`^([a-z-]+)\s*=\s*"(.*)"\s*$`)

func readClientConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	values := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := configLine.FindStringSubmatch(sc.Text()); m != nil {
			values[m[1]] = m[2]
		}
	}
	return values, sc.Err()
}

func setClientConfig(path, key, value string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(data), "\n")
	found := false
	for i, line := range lines {
		if m := configLine.FindStringSubmatch(line); m != nil && m[1] == key {
			lines[i] = fmt.Sprintf("%s = %q", key, value)
			found = true
		}
	}
	if !found {
		lines = append(lines, fmt.Sprintf("%s = %q", key, value))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
