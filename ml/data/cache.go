package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Cache keeps prepared datasets under Dir, one directory per key. The key
// is SHA-256 over the format name, the source files' hash (HashSources)
// and the options (without the source path, so the same files elsewhere
// hit the same entry). Every hit is verified against its sha256; a corrupt
// entry is reported through Warn and rebuilt.
type Cache struct {
	Dir  string
	Warn func(msg string) // nil: warnings are dropped
}

// DefaultCacheDir is $POUWD_DATA_DIR/cache, else ~/.pouwd/data/cache.
func DefaultCacheDir() string {
	if d := os.Getenv("POUWD_DATA_DIR"); d != "" {
		return filepath.Join(d, "cache")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "pouwd-data-cache")
	}
	return filepath.Join(home, ".pouwd", "data", "cache")
}

// Key returns the cache key of normalised options and a source hash.
func Key(o Options, sourceSHA string) string {
	o.Path = ""
	ob, _ := json.Marshal(o)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s", FormatName, sourceSHA, ob)
	return hex.EncodeToString(h.Sum(nil))
}

// Result is what Prepare produced.
type Result struct {
	Dir     string // the prepared dataset directory
	Meta    *Meta
	Dataset *Dataset // nil when served from the cache (Load(Dir) reads it)
	Hit     bool     // served from the cache
}

// Prepare returns the prepared dataset for o, from the cache when a valid
// entry exists, else by loading the source with load (LoadSource when nil),
// building and storing it. With a nil receiver nothing is cached and the
// result is written to out (which must then be set).
func (c *Cache) Prepare(o Options, load LoadFunc, out string) (*Result, error) {
	o, err := o.Normalized()
	if err != nil {
		return nil, err
	}
	if load == nil {
		load = LoadSource
	}
	files, err := SourceFiles(o)
	if err != nil {
		return nil, err
	}
	srcSHA, err := HashSources(o.Path, files)
	if err != nil {
		return nil, err
	}
	dir := out
	if c != nil {
		dir = filepath.Join(c.Dir, Key(o, srcSHA)[:40])
		if _, err := os.Stat(filepath.Join(dir, MetaFile)); err == nil {
			m, err := Verify(dir)
			if err == nil {
				r := &Result{Dir: dir, Meta: m, Hit: true}
				return r, c.export(r, out)
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormat) {
				return nil, err
			}
			if c.Warn != nil {
				c.Warn(fmt.Sprintf("cache entry %s is damaged (%v); rebuilding it", dir, err))
			}
			if err := os.RemoveAll(dir); err != nil {
				return nil, err
			}
		}
	} else if out == "" {
		return nil, fmt.Errorf("%w: no cache and no output directory", ErrOptions)
	}
	d, srcFiles, err := load(o)
	if err != nil {
		return nil, err
	}
	rel := make([]string, len(srcFiles))
	for i, f := range srcFiles {
		rel[i] = filepath.ToSlash(f)
	}
	d, m, err := Build(o, d, rel, srcSHA)
	if err != nil {
		return nil, err
	}
	if c == nil {
		if err := Write(dir, d, m); err != nil {
			return nil, err
		}
	} else if existed, err := writeNew(dir, d, m); err != nil {
		return nil, err
	} else if existed {
		// another process stored this entry meanwhile: it must agree
		vm, err := Verify(dir)
		if err != nil {
			return nil, err
		}
		if vm.SHA256 != m.SHA256 {
			return nil, fmt.Errorf("%w: cache entry %s has sha256 %s, this build gives %s", ErrCorrupt, dir, vm.SHA256, m.SHA256)
		}
	}
	r := &Result{Dir: dir, Meta: m, Dataset: d}
	if c != nil {
		return r, c.export(r, out)
	}
	return r, nil
}

// export copies (hard-links when possible) a cache entry to out.
func (c *Cache) export(r *Result, out string) error {
	if out == "" || filepath.Clean(out) == filepath.Clean(r.Dir) {
		return nil
	}
	parent := filepath.Dir(filepath.Clean(out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return err
	}
	for _, f := range []string{DataFile, MetaFile} {
		src, dst := filepath.Join(r.Dir, f), filepath.Join(tmp, f)
		if err := os.Link(src, dst); err != nil {
			b, err := os.ReadFile(src)
			if err == nil {
				err = os.WriteFile(dst, b, 0o644)
			}
			if err != nil {
				os.RemoveAll(tmp)
				return err
			}
		}
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	r.Dir = out
	return nil
}
