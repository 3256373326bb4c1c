package netmeta

import "strings"

// mobileWords are the words of a registered AS name that suggest a mobile
// network. Only whole words count ("KCELL" is not "cellular").
var mobileWords = map[string]bool{
	"MOBILE": true, "MOBILES": true, "CELLULAR": true, "GSM": true, "LTE": true,
	"GPRS": true, "UMTS": true, "3G": true, "4G": true, "5G": true,
}

// NameSuggestsMobile reports whether a registered AS name contains a word
// that suggests a mobile network. It is weak evidence: it is used only
// when no other source says anything, and labelled as such.
func NameSuggestsMobile(name string) bool {
	for _, w := range strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		if mobileWords[w] {
			return true
		}
	}
	return false
}
