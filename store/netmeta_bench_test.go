package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/netmeta"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// BenchmarkImportNetworkMeta imports datasets of real sizes (120k
// registered ASNs; PeeringDB 30k, CAIDA 110k types and orgs, APNIC 40k
// rows) into a database holding the previous import, then only
// recomputes, as every replay does.
func BenchmarkImportNetworkMeta(b *testing.B) {
	db := storetest.New(b)
	ctx := context.Background()
	const n = 120000
	infos := make([]bgpwatch.ASNInfo, n)
	for i := range infos {
		infos[i] = bgpwatch.ASNInfo{ASN: bgpwatch.ASN(1000 + i), Name: "NET-AS", Country: []string{"KZ", "IR", "US", "DE"}[i%4]}
	}
	if err := db.UpsertASNs(ctx, infos); err != nil {
		b.Fatal(err)
	}
	day := time.Date(2022, 1, 4, 0, 0, 0, 0, time.UTC)
	mk := func(name string, count int, f func(i int) netmeta.Row) netmeta.Dataset {
		d := netmeta.Dataset{Name: name, Date: day}
		for i := range count {
			d.Rows = append(d.Rows, f(i))
		}
		return d
	}
	sets := []netmeta.Dataset{
		mk(netmeta.DatasetPeeringDB, 30000, func(i int) netmeta.Row {
			return netmeta.Row{ASN: bgpwatch.ASN(1000 + 4*i), Name: "pdb", Kind: "Cable/DSL/ISP", Users: -1, Share: -1, Updated: day}
		}),
		mk(netmeta.DatasetCAIDATypes, 110000, func(i int) netmeta.Row {
			return netmeta.Row{ASN: bgpwatch.ASN(1000 + i), Kind: netmeta.CAIDATransitAccess, Users: -1, Share: -1}
		}),
		mk(netmeta.DatasetCAIDAOrgs, 110000, func(i int) netmeta.Row {
			return netmeta.Row{ASN: bgpwatch.ASN(1000 + i), Name: "Org", Country: "KZ", Users: -1, Share: -1}
		}),
		mk(netmeta.DatasetAPNIC, 40000, func(i int) netmeta.Row {
			return netmeta.Row{ASN: bgpwatch.ASN(1000 + 3*i), Country: "KZ", Users: 1000, Share: 0.0001}
		}),
	}
	b.Run("import", func(b *testing.B) {
		for range b.N {
			if _, err := db.ImportNetworkMeta(ctx, sets, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("recompute", func(b *testing.B) {
		for range b.N {
			if _, err := db.ImportNetworkMeta(ctx, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
