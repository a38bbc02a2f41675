// placeholder so the audio library exists before its first source
namespace varlearn {}
