#!/usr/bin/env python3
"""Writes rewrite_cases.txt for kafka_rewrite_test.cc: Metadata (v0-12) and
FindCoordinator (v0-4) responses encoded independently of the C++ code, each
as "api_key version input_hex expected_hex", where expected has brokers 1..3
at adv.example:9092..9094 and every other node (7, -1) unchanged. The last
two cases are truncated frames, which must pass through unchanged.

  python3 gen_rewrite_cases.py > rewrite_cases.txt
"""
import struct, random
random.seed(7)
ADV, BASE = "adv.example", 9092
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def uv(v):
    out=b""
    while v>=0x80: out+=bytes([(v&0x7f)|0x80]); v>>=7
    return out+bytes([v])
def s(x, compact): b=x.encode(); return (uv(len(b)+1) if compact else i16(len(b)))+b
def ns(x, compact):
    if x is None: return uv(0) if compact else i16(-1)
    return s(x, compact)
def arr(n, compact): return uv(n+1) if compact else i32(n)
def tags(compact, n=1):
    if not compact: return b""
    out=uv(n)
    for t in range(n): out+=uv(t)+uv(3)+b"abc"
    return out
def frame(corr, header_tags, body): p=i32(corr)+header_tags+body; return i32(len(p))+p
def addr(node, host, port, compact, rewrite=True):
    if rewrite and 1<=node<=3: host, port = ADV, BASE+node-1
    return i32(node)+s(host,compact)+i32(port)
cases=[]
for v in range(13):
    fx=v>=9
    brokers=[(1,"127.0.0.1",40001,"r1"),(2,"127.0.0.1",40002,None),(3,"127.0.0.1",40003,"rack-3"),(7,"other.host",5555,None)]
    random.shuffle(brokers)
    def body(rw):
        b=(i32(0) if v>=3 else b"")+arr(len(brokers),fx)
        for n,h,p,r in brokers:
            b+=addr(n,h,p,fx,rw)+(ns(r,fx) if v>=1 else b"")+tags(fx,2)
        return b+b"\x00\x00\x00\x01TRAILER-verbatim"+bytes(range(20))
    ht=tags(fx)
    cases.append((3,v,frame(11,ht,body(False)),frame(11,ht,body(True))))
for v in range(5):
    fx=v>=3
    for node in (2,-1):
        def body(rw):
            if v==0: return i16(0)+addr(node,"127.0.0.1" if node>0 else "",40002 if node>0 else -1,False,rw)
            if v<=3: return i32(5)+i16(0 if node>0 else 15)+ns(None if node>0 else "no coordinator",fx)+addr(node,"127.0.0.1" if node>0 else "",40002 if node>0 else -1,fx,rw)+tags(fx)
            b=i32(5)+arr(3,True)
            for key,n in (("grp",node),("txn",3),("other",1)):
                b+=s(key,True)+addr(n,"127.0.0.1" if n>0 else "",40000+n if n>0 else -1,True,rw)+i16(0 if n>0 else 15)+ns(None if n>0 else "err",True)+tags(True)
            return b+tags(True)
        ht=tags(fx)
        cases.append((10,v,frame(12,ht,body(False)),frame(12,ht,body(True))))
# garbled: truncated Metadata v1 and FindCoordinator v4 -> unchanged
good=cases[1][2]; bad=i32(26)+good[4:30]; cases.append((3,1,bad,bad))
good=cases[-2][2]; bad=i32(20)+good[4:24]; cases.append((10,4,bad,bad))
for k,v,a,b in cases: print(k,v,a.hex(),b.hex())
