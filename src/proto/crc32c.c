/* CRC32C (Castagnoli polynomial, reflected 0x82F63B78), the checksum of the
 * PROXY v2 CRC32C TLV. Bit by bit: it only ever covers a header of a few
 * dozen bytes, so a table would buy nothing worth its cache lines. */
#include "proto/proxyproto.h"

uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}
