package uki

// FakeStub is fakeStub for the tests of packages that read images.
var FakeStub = fakeStub
